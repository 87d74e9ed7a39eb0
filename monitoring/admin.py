from __future__ import annotations

from django.contrib import admin

from monitoring.models import AuditEntry, BlockState, MonitoringEvent, SyncRun


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


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Written only by the orchestrator's services."""

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(BlockState)
class BlockStateAdmin(_ReadOnlyAdmin):
    list_display = ["name", "status", "last_activity", "items_processed", "items_total"]
    list_filter = ["status"]
    search_fields = ["name", "last_error"]


@admin.register(SyncRun)
class SyncRunAdmin(_ReadOnlyAdmin):
    list_display = ["id", "type", "status", "problems", "requested_by", "created_at", "finished_at"]
    list_filter = ["type", "status", "created_at"]
    search_fields = ["requested_by", "error"]
    date_hierarchy = "created_at"
