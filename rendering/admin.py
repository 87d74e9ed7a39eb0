from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from automation_hub.errors import HubError
from rendering.models import RenderInstruction, RenderOutput
from rendering.services import actions as override


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
            actor = override.Actor(name=request.user.get_username(), user=request.user, via="admin")
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
        _override_action("retry", "Retry", ReasonForm, override.instruction_manual_retry),
        _override_action("cancel", "Cancel", ReasonForm, override.instruction_cancel),
        _override_action(
            "change_priority",
            "Change priority",
            PriorityReasonForm,
            override.instruction_change_priority,
        ),
    ]
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
