from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("invite/<str:code>", views.invite_link, name="invite"),
    path("invites/", views.my_invites, name="invites"),
    path("settings/profile/", views.edit_profile, name="edit_profile"),
]
