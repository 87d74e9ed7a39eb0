from __future__ import annotations

from django.contrib import admin

from monitoring.models import BlockState, SyncRun


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
