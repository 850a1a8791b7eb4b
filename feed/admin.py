from django.contrib import admin

from feed import actions
from feed.models import Comment, Follow, Like, Notification, Post


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["code", "author", "caption", "visibility", "mature", "hidden", "like_count", "created"]
    list_filter = ["visibility", "mature", "hidden"]
    search_fields = ["code", "author__handle", "caption"]
    list_select_related = ["author"]
    raw_id_fields = ["author", "generation", "source_post"]
    readonly_fields = ["like_count", "comment_count", "remix_count"]
    actions = ["take_down", "restore", "mark_mature"]

    @admin.action(description="Take down (hide from everyone but staff)")
    def take_down(self, request, queryset):
        actions.hide_posts(queryset)

    @admin.action(description="Restore (un-hide)")
    def restore(self, request, queryset):
        actions.restore_posts(queryset)

    @admin.action(description="Mark mature (teens won't see it)")
    def mark_mature(self, request, queryset):
        actions.mark_posts_mature(queryset)


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["code", "author", "post", "body", "created"]
    search_fields = ["code", "author__handle", "body"]
    list_select_related = ["author", "post"]
    raw_id_fields = ["author", "post", "parent"]


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ["follower", "followee", "created"]
    list_select_related = ["follower", "followee"]
    raw_id_fields = ["follower", "followee"]


@admin.register(Like)
class LikeAdmin(admin.ModelAdmin):
    list_display = ["user", "post", "created"]
    list_select_related = ["user", "post"]
    raw_id_fields = ["user", "post"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["recipient", "kind", "actor", "read", "created"]
    list_filter = ["kind", "read"]
    list_select_related = ["recipient", "actor"]
    raw_id_fields = ["recipient", "actor", "post", "comment", "generation"]
