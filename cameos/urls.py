from django.urls import path

from cameos import views

app_name = "cameos"
urlpatterns = [
    path("cameos/", views.cameo_list, name="list"),
    path("cameos/record/", views.record, name="record"),
    path("cameos/record/challenge", views.challenge, name="challenge"),
    path("cameos/record/upload", views.upload, name="upload"),
    path("cameos/character/", views.character, name="character"),
    path("cameos/uses/<str:code>/poster", views.use_poster, name="use_poster"),
    path("cameos/uses/<str:code>/remove", views.remove_use, name="remove_use"),
    path("cameos/uses/<str:code>/block", views.block, name="block"),
    path("cameos/c/<str:code>/", views.detail, name="detail"),
    path("cameos/c/<str:code>/status", views.status, name="status"),
    path("cameos/c/<str:code>/settings", views.update_settings, name="settings"),
    path("cameos/c/<str:code>/approvals", views.approve, name="approve"),
    path("cameos/c/<str:code>/approvals/<str:handle>/remove", views.unapprove, name="unapprove"),
    path("cameos/c/<str:code>/voice", views.voice_upload, name="voice"),
    path("cameos/c/<str:code>/voice/use", views.voice_use, name="voice_use"),
    path("cameos/c/<str:code>/delete", views.delete, name="delete"),
    path("cameos/c/<str:code>/ledger.json", views.ledger_export, name="ledger"),
    path("cameos/c/<str:code>/media/<str:role>/<int:position>", views.media, name="media"),
    path("cameos/c/<str:code>/face", views.face, name="face"),
]
