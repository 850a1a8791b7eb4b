from django.contrib import admin, messages
from django.template.defaultfilters import pluralize
from django.utils.html import format_html

from generation.models import Generation


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    """Moderators review outputs here: filter by check status, see the frames that scored highest."""

    list_display = ["code", "owner", "status", "check_status", "check_category", "created"]
    list_filter = ["status", "check_status", "check_category"]
    search_fields = ["code", "owner__handle", "prompt"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner", "source"]
    readonly_fields = ["code", "check_preview", "poster_preview", "check_scores", "timings", "error_detail"]
    actions = ["release", "block"]
    fieldsets = [
        (None, {"fields": ["code", "owner", "prompt", "storyboard", "status", "error", "poster_preview"]}),
        (
            "Output check",
            {"fields": ["check_status", "check_category", "check_reason", "check_preview", "check_scores"]},
        ),
        (
            "Details",
            {
                "classes": ["collapse"],
                "fields": ["seed", "seconds", "orientation", "timings", "error_detail"],
            },
        ),
    ]

    @admin.display(description="Frames that scored highest")
    def check_preview(self, obj: Generation):
        if not obj.check_frames:
            return "—"
        return format_html('<img src="{}" style="max-height:240px">', obj.media_url("check"))

    @admin.display(description="Poster")
    def poster_preview(self, obj: Generation):
        if not obj.poster:
            return "—"
        return format_html('<img src="{}" style="max-height:240px">', obj.media_url("poster"))

    @admin.action(description="Release: allow sharing")
    def release(self, request, queryset):
        count = queryset.filter(status=Generation.Status.SUCCEEDED).update(
            check_status=Generation.Check.RELEASED
        )
        self.message_user(request, f"Released {count} video{pluralize(count)}.", messages.SUCCESS)

    @admin.action(description="Block: keep private")
    def block(self, request, queryset):
        count = queryset.update(check_status=Generation.Check.BLOCKED)
        self.message_user(request, f"Blocked {count} video{pluralize(count)}.", messages.SUCCESS)
