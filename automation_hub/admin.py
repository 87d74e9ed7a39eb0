from __future__ import annotations

from django.contrib import admin

from automation_hub.models import ApiKey, MonitoringEvent


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created with `manage.py create_api_key` (the raw key is shown once, there)."""

    list_display = ["name", "role", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["role", "revoked_at"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = ["name", "role", "prefix", "created_at", "last_used_at", "revoked_at"]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(MonitoringEvent)
class MonitoringEventAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "severity", "type", "code", "source", "message", "resolved"]
    list_filter = ["resolved", "severity", "type", "code", "source", "notification", "created_at"]
    search_fields = ["message", "code", "=correlation_id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["instruction", "hand"]
    readonly_fields = [
        "type",
        "code",
        "severity",
        "source",
        "message",
        "details",
        "instruction",
        "hand",
        "correlation_id",
        "dedup_key",
        "resolved_by",
        "resolved_at",
        "notified_at",
        "notification",
        "created_at",
    ]
