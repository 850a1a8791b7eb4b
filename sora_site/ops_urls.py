from django.urls import path

from sora_site import views

app_name = "sora_site"
urlpatterns = [
    path("metrics", views.prometheus, name="metrics"),
    path("admin/workers/", views.workers, name="workers"),
]
