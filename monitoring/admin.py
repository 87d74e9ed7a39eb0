from __future__ import annotations

from django.contrib import admin

from monitoring.models import AuditEntry, MonitoringEvent


@admin.register(MonitoringEvent)
class MonitoringEventAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "severity", "type", "code", "source", "message", "resolved"]
    list_filter = ["resolved", "severity", "type", "code", "source", "created_at"]
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
        "created_at",
    ]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit trail is read-only for everyone, superusers included."""

    list_display = [
        "created_at",
        "actor_name",
        "action",
        "target_type",
        "target_ids",
        "via",
        "reason",
    ]
    list_filter = ["action", "via", "created_at"]
    search_fields = ["actor_name", "reason", "action"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
