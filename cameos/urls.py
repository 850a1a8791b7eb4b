from django.urls import path

from cameos import views

app_name = "cameos"
urlpatterns = [
    path("cameos/", views.cameo_list, name="list"),
]
