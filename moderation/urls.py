from django.urls import path

from moderation import views

app_name = "moderation"
urlpatterns = [
    path("report/<str:kind>/<str:code>/", views.report, name="report"),
    path("notices/", views.notices, name="notices"),
    path("settings/data/", views.my_data, name="my_data"),
    path("settings/data/download", views.download_my_data, name="download_my_data"),
    path("settings/delete-account/", views.delete_account, name="delete_account"),
]
