from django.urls import path

from feed import views, views_people, views_posts

app_name = "feed"
urlpatterns = [
    path("", views.home, name="home"),
    path("following/", views.following, name="following"),
    path("notifications/", views_people.notifications, name="notifications"),
    path("steer", views.steer, name="steer"),
    path("settings/feed/", views.feed_settings, name="feed_settings"),
    path("search/", views.search_page, name="search"),
    path("healthz", views.healthz, name="healthz"),
    path("g/<str:code>/post", views_posts.publish, name="publish"),
    path("p/<str:code>/", views_posts.post_detail, name="post"),
    path("p/<str:code>/media/<str:variant>", views_posts.media, name="media"),
    path("p/<str:code>/seen", views_posts.seen, name="seen"),
    path("p/<str:code>/like", views_posts.like, name="like"),
    path("p/<str:code>/not-interested", views.not_interested, name="not_interested"),
    path("p/<str:code>/comments", views_posts.comment, name="comment"),
    path(
        "p/<str:code>/comments/<str:comment_code>/delete", views_posts.delete_comment, name="delete_comment"
    ),
    path("p/<str:code>/unpost", views_posts.unpost, name="unpost"),
    path("p/<str:code>/delete", views_posts.delete, name="delete"),
    path("@<str:handle>", views_people.profile, name="profile"),
    path("@<str:handle>/avatar", views_people.avatar, name="avatar"),
    path("@<str:handle>/followers", views_people.followers, name="followers"),
    path("@<str:handle>/following", views_people.following_list, name="following_list"),
    path("@<str:handle>/follow", views_people.follow, name="follow"),
    path("@<str:handle>/block", views_people.block, name="block"),
]
