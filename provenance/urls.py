from django.urls import path

from provenance import views

app_name = "provenance"
urlpatterns = [
    path("verify", views.verify, name="verify"),
    path("g/<str:code>/download", views.download, name="download"),
]
