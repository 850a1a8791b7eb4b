from django.contrib import admin

from api.models import Extension


@admin.register(Extension)
class ExtensionAdmin(admin.ModelAdmin):
    list_display = ["generation", "source_seconds", "video", "created"]
    list_select_related = ["generation"]
    raw_id_fields = ["generation"]
    search_fields = ["generation__code"]
