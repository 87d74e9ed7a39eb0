"""Edit & retry over the API, and the render backends' capabilities refusing at the door what
the renderer would fail on later: the API, the CSV import and the edit all answer 400 with a
message per output setting, and store nothing."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from automation_hub.models import MonitoringEvent
from rendering.models import AuditEntry, RenderInstruction
from rendering.renderers.capabilities import capabilities_for, output_settings_problems
from rendering.renderers.preview import MAX_FRAMES
from tests.monitoring.helpers import make_instruction

pytestmark = pytest.mark.django_db

LOWER_THIRD = {"template_name": "lower_third", "layer_data": {"player_name": "Ivey"}}
TOO_TALL = {"format": "PNG", "resolution": "1920x10800", "fps": 30, "frame_count": 1}


@pytest.fixture
def sub(key_client):
    return key_client("sub")


def edit(client, capture, **body):
    with capture(execute=True):
        return client.post(reverse("action-edit-retry"), body, format="json")


def failed_row(**fields) -> RenderInstruction:
    return make_instruction(
        status="failed",
        retry_count=3,
        error_message="resolution 1920x10800 is outside 320x180 … 3840x2160",
        layer_data={"player_name": "Ivey"},
        output_settings=TOO_TALL,
        **fields,
    )


# --- capabilities


def test_the_preview_capabilities_are_the_renderers_own_limits(settings, monkeypatch):
    settings.RENDER_BACKEND = "preview"
    monkeypatch.setenv("PATH", "/nonexistent")
    caps = capabilities_for()
    assert caps.max_frames == MAX_FRAMES == 600
    assert caps.formats == ("PNG",)
    assert not caps.video_encoding
    problems = output_settings_problems({"format": "MP4", "frame_count": 601}, caps)
    assert "ffmpeg" in problems["format"][0]
    assert "1 … 600" in problems["frame_count"][0]
    assert output_settings_problems({"format": "PNG", "frame_count": 600}, caps) == {}


def test_video_is_offered_when_the_workers_have_an_encoder(settings, tmp_path, monkeypatch):
    settings.RENDER_BACKEND = "preview"
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert capabilities_for().formats == ("PNG", "MOV", "MP4")
    assert output_settings_problems({"format": "MOV", "frame_count": 60}) == {}


def test_nexrender_takes_longer_sequences_than_the_preview_renderer(settings):
    settings.RENDER_BACKEND = "nexrender"
    assert output_settings_problems({"format": "MP4", "frame_count": 1200}) == {}
    assert "frame_count" in output_settings_problems({"frame_count": 10_001})


@pytest.mark.parametrize(
    ("output_settings", "field"),
    [
        ({"frame_count": 1200}, "frame_count"),
        ({"resolution": "1920x10800"}, "resolution"),
        ({"resolution": "100x100"}, "resolution"),
        ({"format": "MP4"}, "format"),
    ],
)
def test_it_refuses_at_post_what_the_renderer_cannot_render(
    sub, settings, monkeypatch, output_settings, field
):
    settings.RENDER_BACKEND = "preview"
    monkeypatch.setenv("PATH", "/nonexistent")
    response = sub.post(
        reverse("instruction-list"), {**LOWER_THIRD, "output_settings": output_settings},
        format="json",
    )  # fmt: skip

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"]["output_settings"]
    assert RenderInstruction.objects.count() == 0


def test_the_csv_import_refuses_a_file_with_a_row_the_renderer_cannot_render(sub, settings):
    settings.RENDER_BACKEND = "preview"
    content = b"template_name,frame_count\nlower_third,24\nlower_third,1200\n"
    response = sub.post(
        reverse("instruction-import"),
        {"file": SimpleUploadedFile("day.csv", content, content_type="text/csv")},
        format="multipart",
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "600" in str(response.json())
    assert RenderInstruction.objects.count() == 0


# --- edit & retry


def test_it_edits_a_failed_instruction_audits_before_and_after_and_requeues_it(
    person_client, live_events, dispatched, django_capture_on_commit_callbacks
):
    row = failed_row()
    fixed = {"format": "PNG", "resolution": "1920x1080", "fps": 30, "frame_count": 1}

    response = edit(
        person_client,
        django_capture_on_commit_callbacks,
        instruction_id=row.pk,
        reason="Typo in the resolution",
        output_settings=fixed,
        layer_data={"player_name": "Phil Ivey"},
    )

    assert response.status_code == HTTPStatus.OK, response.json()
    assert response.json()["status"] == "pending"
    row.refresh_from_db()
    assert (row.status, row.retry_count, row.error_message) == ("pending", 0, "")
    assert row.output_settings == fixed
    assert row.layer_data == {"player_name": "Phil Ivey"}
    audit = AuditEntry.objects.get()
    assert (audit.action, audit.reason, audit.actor_name) == (
        "edit_retry",
        "Typo in the resolution",
        "engineer",
    )
    assert audit.before["output_settings"] == TOO_TALL
    assert audit.after["output_settings"] == fixed
    assert audit.before["layer_data"] == {"player_name": "Ivey"}
    assert audit.after["layer_data"] == {"player_name": "Phil Ivey"}
    assert (audit.before["status"], audit.after["status"]) == ("failed", "pending")
    assert MonitoringEvent.objects.filter(code="manual_edit_retry", instruction=row).exists()
    assert dispatched == [row.pk]
    updates = live_events.of_type("instruction_updated")
    assert [(u["id"], u["status"], u["action"]) for u in updates] == [
        (row.pk, "pending", "edit_retry")
    ]


def test_it_keeps_what_is_not_sent_and_fills_in_the_defaults(
    person_client, django_capture_on_commit_callbacks
):
    row = failed_row()
    response = edit(
        person_client,
        django_capture_on_commit_callbacks,
        instruction_id=row.pk,
        reason="smaller",
        output_settings={"resolution": "1280x720"},
    )
    assert response.status_code == HTTPStatus.OK
    row.refresh_from_db()
    assert row.layer_data == {"player_name": "Ivey"}
    assert row.output_settings == {
        "format": "PNG", "resolution": "1280x720", "fps": 30, "frame_count": 1
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"output_settings": {"frame_count": 1200}}, "output_settings"),
        ({"output_settings": {"resolution": "1920x10800"}}, "output_settings"),
        ({"output_settings": {"format": "GIF"}}, "output_settings"),
        ({"layer_data": ["not", "an", "object"]}, "layer_data"),
        ({"layer_data": {"x": "y" * 70_000}}, "layer_data"),
        ({}, "non_field_errors"),
        ({"output_settings": {"frame_count": 1}, "reason": "  "}, "reason"),
    ],
)
def test_it_refuses_bad_changes_with_field_errors_and_writes_nothing(
    person_client, live_events, dispatched, django_capture_on_commit_callbacks, body, field
):
    row = failed_row()
    response = edit(
        person_client,
        django_capture_on_commit_callbacks,
        **{"instruction_id": row.pk, "reason": "fix", **body},
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"]
    row.refresh_from_db()
    assert (row.status, row.output_settings, row.layer_data) == (
        "failed",
        TOO_TALL,
        {"player_name": "Ivey"},
    )
    assert AuditEntry.objects.count() == 0
    assert dispatched == []
    assert live_events.sent == []


@pytest.mark.parametrize("status", ["processing", "completed"])
def test_it_refuses_to_edit_a_job_being_rendered_or_done_with_409(
    person_client, live_events, dispatched, django_capture_on_commit_callbacks, status
):
    row = make_instruction(status=status, output_settings=TOO_TALL)
    response = edit(
        person_client,
        django_capture_on_commit_callbacks,
        instruction_id=row.pk,
        reason="fix",
        output_settings={"resolution": "1920x1080"},
    )

    assert response.status_code == HTTPStatus.CONFLICT
    body = response.json()
    assert (body["code"], body["status"]) == ("illegal_transition", status)
    row.refresh_from_db()
    assert (row.status, row.output_settings) == (status, TOO_TALL)
    assert AuditEntry.objects.count() == 0
    assert dispatched == []
    assert live_events.sent == []


def test_it_edits_a_pending_job_before_a_worker_takes_it(
    person_client, django_capture_on_commit_callbacks
):
    row = make_instruction(status="pending", output_settings=TOO_TALL)
    response = edit(
        person_client,
        django_capture_on_commit_callbacks,
        instruction_id=row.pk,
        reason="caught it in time",
        output_settings={"resolution": "1920x1080"},
    )
    assert response.status_code == HTTPStatus.OK
    row.refresh_from_db()
    assert (row.status, row.output_settings["resolution"]) == ("pending", "1920x1080")


def test_an_edited_job_is_a_new_render_job_not_the_old_one_adopted(
    person_client, django_capture_on_commit_callbacks
):
    # A job released back to the queue keeps its render-backend identity, so its next claim
    # adopts the job already on the farm; after an edit that job has the old settings.
    row = make_instruction(status="pending", output_settings=TOO_TALL, external_id="hub-9-old")
    response = edit(
        person_client,
        django_capture_on_commit_callbacks,
        instruction_id=row.pk,
        reason="wrong size",
        output_settings={"resolution": "1920x1080"},
    )
    assert response.status_code == HTTPStatus.OK
    row.refresh_from_db()
    assert row.external_id == ""


def test_it_answers_404_for_an_unknown_instruction(person_client):
    response = person_client.post(
        reverse("action-edit-retry"),
        {"instruction_id": 999_999, "reason": "x", "output_settings": {"frame_count": 1}},
        format="json",
    )
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert AuditEntry.objects.count() == 0


def test_it_keeps_the_edit_from_anonymous_callers_and_producer_keys(anon_client, key_client):
    row = failed_row()
    body = {"instruction_id": row.pk, "reason": "x", "output_settings": {"frame_count": 1}}

    assert anon_client.post(reverse("action-edit-retry"), body, format="json").status_code == 401
    for role in ("feature_table", "sub", "ae", "metrics"):
        response = key_client(role).post(reverse("action-edit-retry"), body, format="json")
        assert response.status_code == HTTPStatus.FORBIDDEN, role
    row.refresh_from_db()
    assert (row.status, row.output_settings) == ("failed", TOO_TALL)
    assert AuditEntry.objects.count() == 0


# --- the admin, the pages' read models


def test_the_admin_links_edit_and_retry_and_no_longer_edits_the_json_directly(admin_client):
    row = failed_row()
    page = admin_client.get(reverse("admin:rendering_renderinstruction_change", args=[row.pk]))
    html = page.content.decode()
    assert page.status_code == HTTPStatus.OK
    assert f'href="/instructions/{row.pk}/#edit-retry"' in html
    assert 'name="layer_data"' not in html
    assert 'name="output_settings"' not in html


def test_heartbeats_fold_into_one_rendering_line_with_the_latest_progress():
    from automation_hub.live import publish
    from rendering.services.payloads import instruction_live_data
    from rendering.timeline import instruction_timeline

    row = make_instruction(status="processing", claimed_by="w1")
    for progress in (10, 40, 68):
        RenderInstruction.objects.filter(pk=row.pk).update(render_progress=progress)
        row.refresh_from_db()
        publish("instruction_updated", instruction_live_data(row))
    titles = [entry.title for entry in instruction_timeline(row)]
    assert titles.count("Status processing") == 1
    assert [t for t in titles if t.startswith("Rendering")] == ["Rendering … 68 %"]


def test_the_stuck_list_has_long_pending_and_silent_processing_jobs_oldest_first():
    from datetime import timedelta

    from django.utils import timezone

    from rendering.timeline import instruction_page_list

    now = timezone.now()
    waiting = make_instruction(status="pending", age=timedelta(minutes=45))
    make_instruction(status="pending", age=timedelta(minutes=5))
    silent = make_instruction(
        status="processing", age=timedelta(minutes=10), claimed_by="w1",
        started_at=now - timedelta(minutes=9), heartbeat_at=now - timedelta(minutes=4),
        render_progress=30,
    )  # fmt: skip
    make_instruction(
        status="processing", age=timedelta(minutes=10), claimed_by="w2",
        started_at=now - timedelta(minutes=1), heartbeat_at=now, render_progress=0,
    )  # fmt: skip
    make_instruction(status="completed", age=timedelta(hours=2))
    rows = list(instruction_page_list(stuck_minutes=30))
    assert [r.pk for r in rows] == [waiting.pk, silent.pk]


def test_the_event_api_filters_simulated_traffic_by_a_strict_boolean(person_client):
    MonitoringEvent.objects.create(
        type="alert", code="error_rate_spike", severity="error", source="monitor",
        message="fake", simulated=True,
    )  # fmt: skip
    MonitoringEvent.objects.create(
        type="alert", code="error_rate_spike", severity="error", source="monitor", message="real"
    )
    only = person_client.get(reverse("event-list"), {"simulated": "true"}).json()["results"]
    assert [e["message"] for e in only] == ["fake"]
    live = person_client.get(reverse("event-list"), {"simulated": "false"}).json()["results"]
    assert [e["message"] for e in live] == ["real"]
    assert person_client.get(reverse("event-list"), {"simulated": "yes"}).status_code == 400


def test_the_page_formats_say_times_durations_and_counts_plainly(settings):
    from datetime import timedelta

    from django.utils import timezone

    from automation_hub.templatetags.hub_format import duration, thousands, when

    settings.TIME_ZONE = "UTC"
    assert duration(72) == "1 m 12 s"
    assert duration(31967.5) == "8 h 52 m"
    assert duration(8.46) == "8.5 s"
    assert thousands(2590000) == "2,590,000"
    now = timezone.now()
    assert when(now) == now.strftime("%H:%M:%S")
    yesterday = now - timedelta(days=1)
    assert when(yesterday) == f"{yesterday:%b} {yesterday.day} {yesterday:%H:%M:%S}"
