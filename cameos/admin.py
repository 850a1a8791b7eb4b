from django.contrib import admin

from cameos.models import Approval, Cameo, CameoMedia, CameoUse, Challenge, LedgerEntry


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
