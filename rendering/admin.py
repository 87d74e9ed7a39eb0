from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from automation_hub.errors import HubError
from rendering.models import AuditEntry, RenderInstruction, RenderOutput
from rendering.services.instructions import instruction_create
from rendering.services.transitions import manual
from rendering.services.transitions.table import STATE_FIELDS, Actor


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text="Why: it goes to the audit trail with your name.",
    )


class PriorityReasonForm(ReasonForm):
    priority = forms.IntegerField(min_value=1, max_value=10, help_text="1 = highest … 10")


def _override_action(
    name: str,
    title: str,
    form_class: type[ReasonForm],
    run: Callable[..., Any],
) -> Callable[..., TemplateResponse | None]:
    """An admin action that first asks for a reason (and options), then calls the service once
    per selected row; refusals (illegal transitions) are reported row by row."""

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet):
        form = form_class(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            actor = Actor(name=request.user.get_username(), user=request.user, via="admin")
            done, refused = 0, []
            for pk in queryset.order_by("pk").values_list("pk", flat=True):
                try:
                    run(instruction_id=pk, actor=actor, **form.cleaned_data)
                    done += 1
                except HubError as exc:
                    refused.append(exc.message)
            if done:
                modeladmin.message_user(request, f"{title}: {done} done.", messages.SUCCESS)
            for message in refused:
                modeladmin.message_user(request, message, messages.ERROR)
            return None
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "opts": modeladmin.model._meta,
            "queryset": queryset,
            "form": form,
            "action": name,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/rendering/renderinstruction/action_reason.html", context
        )

    action.__name__ = name
    return admin.action(description=f"{title} (asks for a reason)")(action)


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
    actions = [
        _override_action("retry", "Retry", ReasonForm, manual.instruction_manual_retry),
        _override_action("cancel", "Cancel", ReasonForm, manual.instruction_cancel),
        _override_action(
            "change_priority",
            "Change priority",
            PriorityReasonForm,
            manual.instruction_change_priority,
        ),
    ]
    # The queue's state belongs to the queue: status, priority, claims and retries change only
    # through its transitions (the override actions ask for a reason), never by editing the row.
    readonly_fields = [
        "status",
        "priority",
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
        "idempotency_scope",
        "idempotency_key",
        "created_by",
        "created_at",
        "updated_at",
        "started_at",
        "completed_at",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A new instruction is given its priority; after that, only the action changes it. Its
        # layer data and output settings change through "Edit & retry" (a reason, the same
        # checks as a new instruction, an audit entry), linked from here.
        fields = list(self.readonly_fields)
        if obj is None:
            return [f for f in fields if f != "priority"]
        return ["edit_and_retry", "layer_data", "output_settings", *fields]

    @admin.display(description="Edit & retry")
    def edit_and_retry(self, obj: RenderInstruction) -> str:
        url = reverse("rendering:instruction", args=[obj.pk]) + "#edit-retry"
        return format_html(
            '<a class="button" href="{}">Edit layer data / output settings and retry…</a>'
            " (asks for a reason; audited)",
            url,
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """A new instruction goes through the queue's creation (dispatched at once, announced
        live); an edit writes only the fields the form changed, never the queue's state (a
        worker may have claimed the row since the form was opened)."""
        if not change:
            created, _ = instruction_create(
                template_name=obj.template_name,
                layer_data=obj.layer_data,
                output_settings=obj.output_settings,
                priority=obj.priority,
                trigger_type=obj.trigger_type,
                trigger_id=obj.trigger_id,
                hand=obj.hand,
                max_retries=obj.max_retries,
                created_by=request.user.get_username(),
            )
            obj.pk = created.pk
            return
        editable = [name for name in form.changed_data if name not in STATE_FIELDS]
        if editable:
            obj.save(update_fields=[*editable, "updated_at"])


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit trail is read-only for everyone, superusers included."""

    list_display = [
        "created_at",
        "actor_name",
        "action",
        "instruction",
        "via",
        "reason",
    ]
    list_filter = ["action", "via", "created_at"]
    search_fields = ["actor_name", "reason", "action", "=instruction__id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["instruction"]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


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
