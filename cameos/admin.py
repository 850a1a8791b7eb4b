import base64

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from cameos.actions.disputes import resolve_dispute
from cameos.models import (
    Approval,
    Cameo,
    CameoMedia,
    CameoUse,
    Challenge,
    LedgerEntry,
    LikenessDispute,
    Withdrawal,
)


class CameoMediaInline(admin.TabularInline):
    model = CameoMedia
    extra = 0
    readonly_fields = ["role", "position", "file", "created"]


@admin.register(Cameo)
class CameoAdmin(admin.ModelAdmin):
    list_display = ["code", "owner", "kind", "name", "status", "permission", "created"]
    list_filter = ["kind", "status", "permission"]
    search_fields = ["code", "owner__handle", "name"]
    raw_id_fields = ["owner", "challenge"]
    readonly_fields = [
        "code",
        "reasons",
        "checks",
        "voice_embedding",
        "face_embedding",
        "verified",
        "deleted",
    ]
    inlines = [CameoMediaInline]


@admin.register(CameoUse)
class CameoUseAdmin(admin.ModelAdmin):
    list_display = ["code", "cameo", "user", "generation", "status", "created"]
    list_filter = ["status"]
    raw_id_fields = ["cameo", "user", "generation", "ledger_entry"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """Read-only: the ledger is append-only, and its hashes would expose any edit anyway."""

    list_display = ["cameo", "seq", "kind", "created", "hash"]
    list_filter = ["kind"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(Approval)
admin.site.register(Challenge)


def _recording(cameo: Cameo | None):
    """The cameo's liveness recording (or reference face) as a player/picture for staff, served by
    the permission-checked cameos:media view (staff may look at any cameo)."""
    if cameo is None:
        return format_html("<em>{}</em>", "gone")
    media = cameo.media.filter(role__in=["recording", "reference"]).order_by("role", "position").first()
    label = format_html("<p><strong>{}</strong> · {}</p>", cameo.label, cameo.get_status_display())
    if media is None:
        return format_html("{}<em>{}</em>", label, "no files left")
    url = reverse("cameos:media", args=[cameo.code, media.role, media.position])
    if media.role == "recording":
        return format_html('{}<video src="{}" controls width="320"></video>', label, url)
    return format_html('{}<img src="{}" alt="" width="320">', label, url)


@admin.register(LikenessDispute)
class LikenessDisputeAdmin(admin.ModelAdmin):
    """The moderators' queue of likeness disputes: a new cameo whose face matches another
    account's cameo or a public figure, both shown side by side."""

    list_display = ["cameo", "matched_cameo", "matched_figure", "distance", "status", "created"]
    list_filter = ["status"]
    readonly_fields = ["side_by_side", "cameo", "matched_cameo", "matched_figure", "distance", "status",
                       "created", "resolved", "resolved_by"]  # fmt: skip
    fields = readonly_fields
    actions = ["verify_held_cameo", "reject_held_cameo"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("cameo__owner", "matched_cameo__owner", "matched_figure")
        )

    def has_add_permission(self, request):
        return False

    @admin.display(description="Recordings side by side")
    def side_by_side(self, dispute: LikenessDispute):
        other = _recording(dispute.matched_cameo) if dispute.matched_cameo_id else None
        if dispute.matched_figure_id:
            figure = dispute.matched_figure
            # The picture is private storage with no public URL: inlined for the moderator.
            with figure.reference_image.open("rb") as fh:
                picture = base64.b64encode(fh.read()).decode()
            other = format_html(
                '<p><strong>Public figure: {}</strong></p><img src="data:image/jpeg;base64,{}" alt="" width="320">',
                figure.name,
                picture,
            )
        cells = [(_recording(dispute.cameo),), (other or format_html("<em>{}</em>", "gone"),)]
        return format_html(
            '<div style="display:flex;gap:1rem">{}</div>',
            format_html_join("", "<div>{}</div>", cells),
        )

    @admin.action(description="Verify the held cameo (not the same person)")
    def verify_held_cameo(self, request, queryset):
        for dispute in queryset.filter(status=LikenessDispute.Status.OPEN):
            resolve_dispute(dispute, verify=True, moderator=request.user)
        messages.success(request, "Done.")

    @admin.action(description="Reject the held cameo (someone else's face)")
    def reject_held_cameo(self, request, queryset):
        for dispute in queryset.filter(status=LikenessDispute.Status.OPEN):
            resolve_dispute(dispute, verify=False, moderator=request.user)
        messages.success(request, "Done.")


@admin.register(Withdrawal)
class WithdrawalAdmin(admin.ModelAdmin):
    list_display = ["generation_code", "owner_handle", "reason", "author", "created"]
    search_fields = ["generation_code", "post_code", "owner_handle"]
    raw_id_fields = ["cameo", "generation", "author", "ledger_entry"]
