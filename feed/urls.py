from django.urls import path

from feed import views

app_name = "feed"
urlpatterns = [
    path("", views.home, name="home"),
    path("following/", views.following, name="following"),
    path("notifications/", views.notifications, name="notifications"),
    path("steer", views.steer, name="steer"),
    path("settings/feed/", views.feed_settings, name="feed_settings"),
    path("search/", views.search_page, name="search"),
    path("healthz", views.healthz, name="healthz"),
    path("g/<str:code>/post", views.publish, name="publish"),
    path("p/<str:code>/", views.post_detail, name="post"),
    path("p/<str:code>/media/<str:variant>", views.media, name="media"),
    path("p/<str:code>/seen", views.seen, name="seen"),
    path("p/<str:code>/like", views.like, name="like"),
    path("p/<str:code>/not-interested", views.not_interested, name="not_interested"),
    path("p/<str:code>/comments", views.comment, name="comment"),
    path("p/<str:code>/comments/<str:comment_code>/delete", views.delete_comment, name="delete_comment"),
    path("p/<str:code>/unpost", views.unpost, name="unpost"),
    path("p/<str:code>/delete", views.delete, name="delete"),
    path("@<str:handle>", views.profile, name="profile"),
    path("@<str:handle>/avatar", views.avatar, name="avatar"),
    path("@<str:handle>/followers", views.followers, name="followers"),
    path("@<str:handle>/following", views.following_list, name="following_list"),
    path("@<str:handle>/follow", views.follow, name="follow"),
    path("@<str:handle>/block", views.block, name="block"),
]
