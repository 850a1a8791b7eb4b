from django.urls import path

from generation import views

app_name = "generation"
urlpatterns = [
    path("create/", views.create, name="create"),
    path("drafts/", views.drafts, name="drafts"),
    path("g/<str:code>/", views.detail, name="detail"),
    path("g/<str:code>/cancel", views.cancel, name="cancel"),
    path("g/<str:code>/retry", views.retry, name="retry"),
    path("g/<str:code>/retake", views.retake, name="retake"),
    path("g/<str:code>/delete", views.delete, name="delete"),
    path("g/<str:code>/media/<str:variant>", views.media, name="media"),
]
