"""The operator console in a real browser: fix a failed graphic, refuse what cannot render, act
on an alert, find stuck jobs, see a graphic at full size — the clicks an engineer makes live.

Renders run on a real django-q2 worker cluster (preview renderer) against the test database.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from automation_hub.models import MonitoringEvent
from automation_hub.services import api_key_create
from rendering.models import AuditEntry, InstructionStatus, RenderInstruction
from tests.dashboard.browser import ARTIFACTS, screenshot
from tests.dashboard.factories import instruction, png_output
from tests.rendering.cluster import cluster_env, running_cluster

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOO_TALL = {"format": "PNG", "resolution": "1920x10800", "fps": 30, "frame_count": 1}
FIXED = {"format": "PNG", "resolution": "1280x720", "fps": 30, "frame_count": 1}
WHY = "Typo in the resolution"


def render_cluster():
    env = cluster_env(workers=1, backend="preview", output_root=Path(settings.OUTPUT_ROOT))
    return running_cluster(env, log=ARTIFACTS / "qcluster-console.log")


def open_page(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#live-indicator.live-live")


def failed_with_alert(template: str) -> RenderInstruction:
    row = instruction(template_name=template)
    RenderInstruction.objects.filter(pk=row.pk).update(
        status=InstructionStatus.FAILED, retry_count=3, error_message="AE crashed",
        updated_at=timezone.now(),
    )  # fmt: skip
    MonitoringEvent.objects.create(
        type="alert",
        code="job_failed_permanently",
        severity="error",
        source="render_queue",
        message=f"Instruction {row.pk} failed for good: AE crashed",
        instruction=row,
    )
    return row


def test_a_graphic_that_failed_on_a_worker_is_fixed_by_editing_its_settings(hub, page):
    # Queued before its resolution was checked (or for another backend): the worker refuses it.
    row = instruction(template_name="lower_third", output_settings=TOO_TALL,
                      layer_data={"player_name": "Phil Ivey"})  # fmt: skip
    open_page(page, f"{hub.url}/instructions/{row.pk}/")
    status = page.locator("#instruction-status")
    with render_cluster():
        expect(status).to_have_text("failed", timeout=30000)
        expect(page.locator('#instruction-detail [data-field="error_message"]')).to_contain_text(
            "1920x10800"
        )
        retry = page.locator('button[data-action="retry"]')
        expect(retry).to_be_enabled()  # the buttons follow the live status

        page.click('button[data-action="edit-retry"]')  # click 1
        dialog = page.locator("#action-dialog")
        expect(dialog).to_be_visible()
        expect(page.locator("#action-priority")).to_be_hidden()
        settings_box = page.locator("#action-output-settings")
        expect(settings_box).to_be_visible()
        assert json.loads(settings_box.input_value()) == TOO_TALL
        expect(page.locator("#action-capabilities")).to_contain_text("1 … 600 frames")
        assert page.evaluate("document.activeElement.id") == "action-text"
        screenshot(page, "edit-retry-dialog")

        # A change the renderer cannot render is refused in the dialog, nothing is written.
        settings_box.fill(json.dumps({**FIXED, "frame_count": 1200}))
        page.fill("#action-text", WHY)
        page.press("#action-text", "Enter")
        expect(page.locator("#action-error")).to_contain_text(
            "output_settings.frame_count", timeout=5000
        )
        assert not AuditEntry.objects.exists()

        settings_box.fill(json.dumps(FIXED))  # click 2 (the settings), then Enter
        page.press("#action-text", "Enter")
        expect(dialog).to_be_hidden(timeout=5000)
        expect(status).to_have_text("completed", timeout=30000)
    expect(page.locator("#instruction-output img.thumb")).to_be_visible(timeout=5000)
    expect(page.locator("#timeline")).to_contain_text(f"edit_retry by engineer {WHY}")
    expect(page.locator('button[data-action="edit-retry"]')).to_be_disabled()
    title = page.locator('button[data-action="edit-retry"]').get_attribute("title")
    assert "completed" in title

    row.refresh_from_db()
    assert (row.status, row.output_settings) == ("completed", FIXED)
    audit = AuditEntry.objects.get(instruction=row, action="edit_retry")
    assert (audit.reason, audit.actor_name, audit.via) == (WHY, "engineer", "api")
    assert audit.before["output_settings"] == TOO_TALL
    assert audit.after["output_settings"] == FIXED
    assert (audit.before["status"], audit.after["status"]) == ("failed", "pending")
    page.reload()
    expect(page.locator("#timeline")).to_contain_text(f"edit_retry by engineer {WHY}")
    screenshot(page, "edit-retry-completed")


def test_a_1200_frame_instruction_is_refused_at_post_with_a_field_error(hub, page):
    _, key = api_key_create(role="sub", name="sub-desk")
    response = httpx.post(
        f"{hub.url}/api/instructions",
        headers={"Authorization": f"Api-Key {key}"},
        json={"template_name": "lower_third", "output_settings": {"frame_count": 1200}},
        timeout=10,
    )
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert "1 … 600" in errors["output_settings"]["frame_count"][0]
    assert not RenderInstruction.objects.exists()


def test_the_retry_dialog_asks_only_for_a_reason_centred_and_closes_with_escape(hub, page):
    page.set_viewport_size({"width": 1280, "height": 720})
    row = failed_with_alert("bust_out")
    open_page(page, f"{hub.url}/instructions/{row.pk}/")

    page.click('button[data-action="retry"]')
    dialog = page.locator("#action-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#action-priority")).to_be_hidden()
    expect(page.locator("#action-priority-label")).to_be_hidden()
    expect(page.locator("#action-output-settings")).to_be_hidden()
    assert page.evaluate("document.activeElement.id") == "action-text"
    box = dialog.bounding_box()
    assert abs(box["x"] + box["width"] / 2 - 640) < 30, box
    assert abs(box["y"] + box["height"] / 2 - 360) < 60, box
    screenshot(page, "retry-dialog-1280")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.click('button[data-action="change-priority"]')
    expect(page.locator("#action-priority")).to_be_visible()
    page.keyboard.press("Escape")

    completed = instruction(template_name="done")
    RenderInstruction.objects.filter(pk=completed.pk).update(
        status="completed", updated_at=timezone.now()
    )
    open_page(page, f"{hub.url}/instructions/{completed.pk}/")
    for name in ("retry", "edit-retry", "cancel", "change-priority"):
        button = page.locator(f'button[data-action="{name}"]')
        expect(button).to_be_disabled()
        assert button.get_attribute("title").startswith("Not possible: it is")
    assert not AuditEntry.objects.exists()


def test_an_alert_shows_its_time_groups_opens_its_instruction_and_closes_itself(hub, page):
    rows = [failed_with_alert(f"bust_out_{n}") for n in range(3)]
    target = rows[-1]
    alert = MonitoringEvent.objects.get(instruction=target)
    open_page(page, f"{hub.url}/overview/")

    groups = page.locator("#active-alerts .alert-group")
    expect(groups).to_have_count(1)
    group = groups.first
    expect(group.locator('[data-field="count"]')).to_have_text("\u00d73")
    shown = timezone.localtime(alert.created_at).strftime("%H:%M:%S")
    expect(group.locator("summary time")).to_have_text(shown)
    screenshot(page, "alerts-grouped")

    group.locator("summary .alert-link").click()  # the newest one's own instruction
    page.wait_for_url(f"{hub.url}/instructions/{target.pk}/")
    page.wait_for_selector("#live-indicator.live-live")
    expect(page.locator("#timeline")).to_contain_text("job_failed_permanently")

    page.click('button[data-action="retry"]')
    page.fill("#action-text", "AE restarted")
    page.press("#action-text", "Enter")
    expect(page.locator("#instruction-status")).to_have_text("pending", timeout=5000)
    with render_cluster():
        expect(page.locator("#instruction-status")).to_have_text("completed", timeout=30000)

    alert.refresh_from_db()
    assert (alert.resolved, alert.resolved_by) == (True, "system")
    assert alert.notes == f"instruction {target.pk} completed"
    closing = MonitoringEvent.objects.get(code="alerts_auto_resolved")
    assert closing.details["event_ids"] == [alert.pk]
    # The retry added no second open alert for the job.
    assert MonitoringEvent.objects.filter(
        instruction=target, code="job_failed_permanently"
    ).count() == 1
    open_page(page, f"{hub.url}/overview/")
    expect(page.locator("#active-alerts .alert-group [data-field='count']")).to_have_text("\u00d72")
    open_page(page, f"{hub.url}/events/?code=job_failed_permanently")
    expect(page.locator(f'tr[data-event-id="{alert.pk}"] [data-field="state"]')).to_have_text(
        f"resolved by system: instruction {target.pk} completed"
    )


def test_a_simulated_alert_stays_out_of_the_live_list(hub, page):
    MonitoringEvent.objects.create(
        type="alert", code="error_rate_spike", severity="error", source="monitor",
        message="Error rate 35 % (simulated day)", simulated=True,
    )  # fmt: skip
    open_page(page, f"{hub.url}/overview/")
    expect(page.locator("#active-alerts")).to_contain_text("No open warnings or errors.")
    open_page(page, f"{hub.url}/events/")
    expect(page.locator("#event-list")).not_to_contain_text("simulated day")
    open_page(page, f"{hub.url}/events/?simulated=true")
    expect(page.locator("#event-list")).to_contain_text("simulated day")


def test_a_thumbnail_opens_the_full_size_viewer_and_arrows_move_through_the_gallery(hub, page):
    outputs = [png_output(instruction(template_name=f"chip_count_{n}")) for n in range(3)]
    open_page(page, f"{hub.url}/outputs/")
    cards = page.locator("#output-gallery img.thumb")
    expect(cards).to_have_count(3)

    cards.first.click()  # click 1
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    page.wait_for_function("document.getElementById('viewer-image').naturalWidth === 64")
    expect(page.locator("#viewer-caption")).to_contain_text("1 of 3")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-caption")).to_contain_text("2 of 3")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#viewer-caption")).to_contain_text("3 of 3")
    newest_first = sorted(outputs, key=lambda o: o.pk, reverse=True)
    link = page.locator("#viewer-instruction").get_attribute("href")
    assert link == f"/instructions/{newest_first[2].instruction_id}/"
    screenshot(page, "viewer")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()

    open_page(page, f"{hub.url}/outputs/?template=chip_count_1")
    expect(cards).to_have_count(1)

    open_page(page, f"{hub.url}/instructions/{outputs[0].instruction_id}/")
    page.locator("#instruction-output img.thumb").click()
    expect(viewer).to_be_visible()


def test_the_stuck_filter_lists_a_job_pending_too_long(hub, page):
    now = timezone.now()
    waiting = instruction(template_name="waiting_too_long")
    fresh = instruction(template_name="just_queued")
    silent = instruction(template_name="silent_worker")
    RenderInstruction.objects.filter(pk=waiting.pk).update(created_at=now - timedelta(minutes=45))
    RenderInstruction.objects.filter(pk=silent.pk).update(
        status="processing", claimed_by="w1", started_at=now - timedelta(minutes=6),
        heartbeat_at=now - timedelta(minutes=5), render_progress=40,
    )  # fmt: skip
    open_page(page, f"{hub.url}/overview/")

    page.click("#flow-delayed-link")  # click 1
    page.wait_for_url("**/instructions/?stuck=1")
    rows = page.locator("#instruction-list tbody tr[data-instruction-id]")
    expect(rows).to_have_count(2)
    ids = [int(x) for x in rows.evaluate_all("rs => rs.map(r => r.dataset.instructionId)")]
    assert ids == [waiting.pk, silent.pk]  # the longest waiting first
    assert fresh.pk not in ids
    expect(rows.first.locator(".age")).to_have_text("45 m")
    screenshot(page, "stuck")

    # Several statuses at once; pages both ways with a count.
    for n in range(30):
        instruction(template_name=f"bulk_{n}")
    open_page(page, f"{hub.url}/instructions/?status=pending&status=processing")
    expect(page.locator(".pagination")).to_contain_text("of 33")
    page.click('.pagination a[rel="next"]')
    expect(page.locator('.pagination a[rel="prev"]')).to_be_visible()


PAGES = [
    ("overview", "/overview/"),
    ("instructions", "/instructions/"),
    ("instruction", "/instructions/{instruction}/"),
    ("hands", "/hands/"),
    ("hand", "/hands/{hand}/"),
    ("events", "/events/"),
    ("outputs", "/outputs/"),
]


def test_every_page_fits_1280_pixels_and_is_captured_at_both_sizes(hub, page):
    from tests.dashboard.factories import premium_hand

    hand = premium_hand(number=7, pot_size=2590000)
    row = RenderInstruction.objects.filter(hand=hand).first() or instruction(hand=hand)
    png_output(row)
    for n in range(2):
        failed_with_alert(f"bust_out_{n}")
    for n, (status, progress) in enumerate(
        [("processing", 68), ("processing", 12), ("pending", 0), ("pending", 0)]
    ):
        extra = instruction(template_name=f"chip_count_{n}", priority=3 + n)
        RenderInstruction.objects.filter(pk=extra.pk).update(
            status=status, render_progress=progress, claimed_by="w1" if progress else "",
            heartbeat_at=timezone.now() if progress else None, updated_at=timezone.now(),
        )  # fmt: skip
    for n in range(3):
        png_output(instruction(template_name=f"leaderboard_{n}"))
    for name, path in PAGES:
        url = hub.url + path.format(instruction=row.pk, hand=hand.pk)
        for width, height in ((1600, 1000), (1280, 720)):
            page.set_viewport_size({"width": width, "height": height})
            open_page(page, url)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (name, width, overflow)
            screenshot(page, f"page-{name}-{width}x{height}")
    open_page(page, f"{hub.url}/hands/{hand.pk}/")
    expect(page.locator("body")).to_contain_text("2,590,000")
