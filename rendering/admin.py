from __future__ import annotations

from django.contrib import admin

from rendering.models import RenderInstruction, RenderOutput


class RenderOutputInline(admin.TabularInline):
    model = RenderOutput
    extra = 0
    can_delete = False
    fields = ["output_path", "file_size", "frame_count", "status", "error_message", "completed_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(RenderInstruction)
class RenderInstructionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "template_name",
        "status",
        "priority",
        "trigger_type",
        "retry_count",
        "claimed_by",
        "render_progress",
        "created_at",
        "completed_at",
    ]
    list_filter = ["status", "priority", "trigger_type", "template_name", "backend", "created_at"]
    search_fields = ["template_name", "trigger_id", "idempotency_key", "=correlation_id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["hand"]
    inlines = [RenderOutputInline]
    # The queue's state belongs to the queue: status, claims and retries change only through
    # its services (the override actions), never by editing the row.
    readonly_fields = [
        "status",
        "retry_count",
        "error_message",
        "claimed_by",
        "lease_id",
        "heartbeat_at",
        "next_attempt_at",
        "backend",
        "external_id",
        "render_progress",
        "correlation_id",
        "idempotency_key",
        "created_by",
        "created_at",
        "updated_at",
        "started_at",
        "completed_at",
    ]


@admin.register(RenderOutput)
class RenderOutputAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "instruction",
        "output_path",
        "file_size",
        "frame_count",
        "status",
        "completed_at",
    ]
    list_filter = ["status", "created_at"]
    search_fields = ["output_path"]
    raw_id_fields = ["instruction"]
    readonly_fields = [
        "instruction",
        "output_path",
        "file_size",
        "frame_count",
        "status",
        "error_message",
        "created_at",
        "completed_at",
    ]
