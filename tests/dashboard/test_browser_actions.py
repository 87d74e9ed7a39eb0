"""Manual override from the pages: the buttons call the JSON action APIs (SPEC §5) with the
session cookie and the CSRF header, ask for a reason, and the page shows the outcome live."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from automation_hub.models import MonitoringEvent
from rendering.models import AuditEntry, InstructionStatus, RenderInstruction
from tests.dashboard.browser import screenshot
from tests.dashboard.factories import instruction
from tests.dashboard.processes import run_python

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def failed_instruction() -> RenderInstruction:
    row = instruction(template_name="bust_out", max_retries=3)
    RenderInstruction.objects.filter(pk=row.pk).update(
        status=InstructionStatus.FAILED,
        retry_count=3,
        error_message="Timeout and max retries exceeded",
        updated_at=timezone.now(),
    )
    return row


def submit_action(page, button: str, text: str) -> None:
    page.click(button)
    dialog = page.locator("#action-dialog")
    expect(dialog).to_be_visible()
    page.fill("#action-text", text)
    page.click("#action-submit")


def test_it_retries_a_failed_instruction_from_its_page_with_a_reason(hub, page):
    row = failed_instruction()
    page.goto(f"{hub.url}/instructions/{row.pk}/")
    page.wait_for_selector("#live-indicator.live-live")
    expect(page.locator("#instruction-status")).to_have_text("failed")

    submit_action(page, 'button[data-action="retry"]', "Renderer fixed, run it again")

    expect(page.locator("#action-dialog")).to_be_hidden()
    expect(page.locator("#instruction-status")).to_have_text("pending", timeout=3000)
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("retry by engineer Renderer fixed, run it again")
    row.refresh_from_db()
    assert row.status == InstructionStatus.PENDING
    audit = AuditEntry.objects.get(action="retry")
    assert audit.reason == "Renderer fixed, run it again"
    assert audit.actor_name == "engineer"
    assert row.pk in audit.target_ids
    screenshot(page, "retried")


def test_it_disables_an_action_that_cannot_apply_and_says_why(hub, page):
    row = instruction(template_name="lower_third")  # PENDING: nothing to retry
    page.goto(f"{hub.url}/instructions/{row.pk}/")
    page.wait_for_selector("#live-indicator.live-live")

    retry = page.locator('button[data-action="retry"]')
    expect(retry).to_be_disabled()
    expect(retry).to_have_attribute("title", "Not possible: it is already pending in the queue.")
    expect(page.locator('button[data-action="cancel"]')).to_be_enabled()


def test_it_shows_why_an_action_was_refused_and_changes_nothing(hub, page):
    row = failed_instruction()
    page.goto(f"{hub.url}/instructions/{row.pk}/")
    page.wait_for_selector("#live-indicator.live-live")
    # Someone else re-queued it meanwhile, and this page has not heard yet (no live event).
    RenderInstruction.objects.filter(pk=row.pk).update(status=InstructionStatus.PENDING)

    submit_action(page, 'button[data-action="retry"]', "try anyway")

    error = page.locator("#action-error")
    expect(error).to_be_visible(timeout=3000)
    expect(error).to_contain_text("pending")
    row.refresh_from_db()
    assert row.status == InstructionStatus.PENDING
    assert not AuditEntry.objects.exists()


def test_it_resolves_an_event_with_notes(hub, page):
    event = MonitoringEvent.objects.create(
        type="alert",
        code="error_rate_spike",
        severity="error",
        source="monitor",
        message="Error rate 35 % over the last hour",
    )
    page.goto(f"{hub.url}/events/?resolved=false")
    page.wait_for_selector("#live-indicator.live-live")

    submit_action(page, f'button[data-event-id="{event.pk}"]', "Backend restarted")

    state = page.locator(f'tr[data-event-id="{event.pk}"] [data-field="state"]')
    expect(state).to_have_text("resolved by engineer: Backend restarted", timeout=3000)
    event.refresh_from_db()
    assert event.resolved
    assert event.resolved_by == "engineer"
    assert event.notes == "Backend restarted"
    screenshot(page, "event-resolved")


def test_a_detectors_priority_raise_shows_live_and_stays_in_the_audit_trail(hub, page):
    """The monitor (another process) raises a job that waited too long: the open page shows the
    new priority and who decided it without a reload, and the reloaded page keeps it."""
    row = instruction(template_name="chip_count", priority=5)
    RenderInstruction.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(minutes=45)
    )
    page.goto(f"{hub.url}/instructions/{row.pk}/")
    page.wait_for_selector("#live-indicator.live-live")
    expect(page.locator('#instruction-detail [data-field="priority"]')).to_have_text("5")

    run_python("from monitoring.services.detectors import monitor_run; monitor_run()")

    expect(page.locator('#instruction-detail [data-field="priority"]')).to_have_text("4")
    expect(page.locator("#timeline")).to_contain_text("raise_priority by monitor")
    (audit,) = AuditEntry.objects.filter(instruction=row)
    assert (audit.action, audit.via, audit.before["priority"], audit.after["priority"]) == (
        "raise_priority",
        "system",
        5,
        4,
    )
    page.reload()
    expect(page.locator("#timeline")).to_contain_text("raise_priority by monitor")
