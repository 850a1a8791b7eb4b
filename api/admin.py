from django.contrib import admin

from api.models import Extension, WebhookDelivery, WebhookEndpoint


@admin.register(Extension)
class ExtensionAdmin(admin.ModelAdmin):
    list_display = ["generation", "source_seconds", "video", "created"]
    list_select_related = ["generation"]
    raw_id_fields = ["generation"]
    search_fields = ["generation__code"]


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ["event_type", "event_id", "status", "attempts", "response_status", "last_error", "created"]
    readonly_fields = fields
    ordering = ["-created"]
    extra = 0
    can_delete = False
    max_num = 0


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    # The secret is never shown here: only the owner saw it, once.
    list_display = ["url", "owner", "event_types", "created"]
    list_select_related = ["owner"]
    fields = ["owner", "url", "event_types", "created"]
    readonly_fields = ["created"]
    raw_id_fields = ["owner"]
    search_fields = ["url", "owner__handle"]
    inlines = [WebhookDeliveryInline]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log across endpoints: what was sent, how often, and the last answer."""

    list_display = [
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "response_status",
        "last_error",
        "created",
    ]
    list_filter = ["status", "event_type"]
    list_select_related = ["endpoint"]
    search_fields = ["event_id", "endpoint__url"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
