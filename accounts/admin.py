from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import ApiToken, Block, Invite, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["-date_joined"]
    list_display = ["handle", "email", "display_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["handle", "email", "display_name"]
    fieldsets = [
        (None, {"fields": ["handle", "email", "password"]}),
        ("Profile", {"fields": ["display_name", "bio", "avatar", "birth_date"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["handle", "email", "password1", "password2"]})]


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ["code", "created_by", "created", "expires", "used_by", "used_at"]
    search_fields = ["code", "created_by__handle", "used_by__handle"]
    list_select_related = ["created_by", "used_by"]
    raw_id_fields = ["created_by", "used_by"]


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ["blocker", "blocked", "created"]
    list_select_related = ["blocker", "blocked"]
    raw_id_fields = ["blocker", "blocked"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "prefix", "created", "last_used", "revoked"]
    readonly_fields = ["digest", "prefix"]
    list_select_related = ["owner"]
