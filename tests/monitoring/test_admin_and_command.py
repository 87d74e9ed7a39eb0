"""The same override actions from Django admin (with a reason form) and `manage.py bulk_retry`."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import CommandError, call_command
from django.urls import reverse

from rendering.models import AuditEntry, RenderInstruction
from tests.monitoring.helpers import make_instruction

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:rendering_renderinstruction_changelist"


def test_it_asks_the_admin_for_a_reason_before_retrying(admin_client):
    row = make_instruction(status="failed")

    response = admin_client.post(
        reverse(CHANGELIST), {"action": "retry", ACTION_CHECKBOX_NAME: [row.pk]}
    )

    assert response.status_code == HTTPStatus.OK
    assert b'name="reason"' in response.content
    row.refresh_from_db()
    assert row.status == "failed"
    assert not AuditEntry.objects.exists()


def test_it_retries_from_the_admin_with_a_reason_and_reports_refusals(
    admin_client, live_events, dispatched, django_capture_on_commit_callbacks
):
    failed = make_instruction(status="failed")
    processing = make_instruction(status="processing")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse(CHANGELIST),
            {
                "action": "retry",
                ACTION_CHECKBOX_NAME: [failed.pk, processing.pk],
                "apply": "1",
                "reason": "renderer fixed",
            },
            follow=True,
        )

    assert response.status_code == HTTPStatus.OK
    failed.refresh_from_db()
    processing.refresh_from_db()
    assert (failed.status, processing.status) == ("pending", "processing")
    audit = AuditEntry.objects.get()
    assert (audit.action, audit.via, audit.actor_name) == ("retry", "admin", "admin")
    assert audit.reason == "renderer fixed"
    shown = [str(m) for m in response.context["messages"]]
    assert "Retry: 1 done." in shown
    assert any("a worker is rendering it" in m for m in shown)
    assert dispatched == [failed.pk]
    assert [u["id"] for u in live_events.of_type("instruction_updated")] == [failed.pk]


def test_it_changes_priority_and_cancels_from_the_admin(admin_client):
    row = make_instruction(priority=6)

    admin_client.post(
        reverse(CHANGELIST),
        {
            "action": "change_priority",
            ACTION_CHECKBOX_NAME: [row.pk],
            "apply": "1",
            "reason": "feature table",
            "priority": "2",
        },
    )
    row.refresh_from_db()
    assert row.priority == 2

    admin_client.post(
        reverse(CHANGELIST),
        {"action": "cancel", ACTION_CHECKBOX_NAME: [row.pk], "apply": "1", "reason": "dup"},
    )
    row.refresh_from_db()
    assert row.status == "cancelled"
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "change_priority",
        "cancel",
    ]


def test_it_keeps_the_form_when_the_reason_is_missing(admin_client):
    row = make_instruction(status="failed")

    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "retry", ACTION_CHECKBOX_NAME: [row.pk], "apply": "1", "reason": ""},
    )

    assert response.status_code == HTTPStatus.OK
    assert b"This field is required" in response.content
    row.refresh_from_db()
    assert row.status == "failed"


def _rows():
    old = make_instruction(status="failed", age=timedelta(days=3), template_name="lower_third")
    new = make_instruction(status="failed", age=timedelta(hours=1), template_name="lower_third")
    other = make_instruction(status="failed", age=timedelta(hours=1), template_name="chip_count")
    return old, new, other


def test_it_bulk_retries_from_the_command_line_in_a_dry_run_without_changes():
    _, new, _ = _rows()
    out = StringIO()
    after = (RenderInstruction.objects.get(pk=new.pk).created_at - timedelta(hours=1)).isoformat()

    call_command(
        "bulk_retry",
        "--status=failed",
        f"--created-after={after}",
        "--template=lower_third",
        "--reason=node back",
        "--dry-run",
        stdout=out,
    )

    assert out.getvalue().strip() == f"would re-queue 1 instruction(s): {new.pk}"
    assert set(RenderInstruction.objects.values_list("status", flat=True)) == {"failed"}
    assert not AuditEntry.objects.exists()


def test_it_bulk_retries_from_the_command_line(dispatched, django_capture_on_commit_callbacks):
    old, new, other = _rows()
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "bulk_retry", "--template=lower_third", "--reason=node back", "--actor=td", stdout=out
        )

    assert out.getvalue().startswith("re-queued 2 instruction(s)")
    statuses = dict(RenderInstruction.objects.values_list("pk", "status"))
    assert statuses == {old.pk: "pending", new.pk: "pending", other.pk: "failed"}
    audits = AuditEntry.objects.order_by("instruction_id")
    assert [(a.via, a.actor_name, a.instruction_id) for a in audits] == [
        ("command", "td", old.pk),
        ("command", "td", new.pk),
    ]
    assert sorted(dispatched) == [old.pk, new.pk]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--created-after=yesterday"], "not an ISO date"),
        (["--reason=   "], "reason is required"),
        (["--created-after=2026-02-01", "--created-before=2026-01-01"], "must be before"),
    ],
)
def test_it_exits_with_a_one_line_reason_on_bad_input(args, message):
    make_instruction(status="failed")
    argv = args if any(a.startswith("--reason") for a in args) else [*args, "--reason=x"]

    with pytest.raises(CommandError, match=message):
        call_command("bulk_retry", *argv)

    assert RenderInstruction.objects.get().status == "failed"


def test_it_exits_non_zero_from_the_shell_on_a_bad_status(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "bulk_retry", "--status=completed", "--reason=x"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0
    assert "invalid choice: 'completed'" in result.stderr


def test_it_shows_sync_runs_and_block_states_read_only_in_the_admin(admin_client):
    from monitoring.models import BlockState, SyncRun

    run = SyncRun.objects.create(type="full")
    block = BlockState.objects.create(name="monitor", status="completed")

    for obj in (run, block):
        meta = obj._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert admin_client.get(changelist).status_code == HTTPStatus.OK
        change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
        assert admin_client.get(change).status_code == HTTPStatus.OK
        add = reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
        assert admin_client.get(add).status_code == HTTPStatus.FORBIDDEN
