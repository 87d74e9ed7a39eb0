from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from automation_hub.models import ApiKey, MonitoringEvent
from automation_hub.services import api_key_create
from monitoring.selectors.dashboard import QueueCounts
from rendering.models import InstructionStatus, RenderInstruction, RenderOutput
from tests.dashboard.factories import instruction, png_output, premium_hand

pytestmark = pytest.mark.django_db

PAGES = [
    ("monitoring:overview", {}),
    ("monitoring:overview-summary", {}),
    ("monitoring:overview-series", {}),
    ("monitoring:events", {}),
    ("rendering:instructions", {}),
    ("rendering:outputs", {}),
    ("hands:hands", {}),
]


@pytest.fixture
def browser(engineer) -> Client:
    client = Client()
    client.force_login(engineer)
    return client


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_it_sends_anonymous_visitors_to_the_login_page(name, kwargs):
    response = Client().get(reverse(name, kwargs=kwargs))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("login"))


def test_it_redirects_the_root_to_login_or_overview(browser):
    assert Client().get("/")["Location"] == reverse("login")
    assert browser.get("/")["Location"] == reverse("monitoring:overview")


def test_it_shows_the_overview_figures_of_the_database(browser):
    hand = premium_hand(1)
    done = instruction(template_name="lower_third")
    png_output(done)
    failed = instruction(template_name="bust_out")
    RenderInstruction.objects.filter(pk=failed.pk).update(
        status=InstructionStatus.FAILED, completed_at=timezone.now()
    )
    MonitoringEvent.objects.create(
        type="alert", code="error_rate_spike", severity="error", source="test", message="boom"
    )

    response = browser.get(reverse("monitoring:overview"))

    assert response.status_code == HTTPStatus.OK
    overview = response.context["overview"]
    assert overview.metrics.throughput_1h == 1
    assert overview.metrics.error_rate_1h == 0.5
    # The hand's premium instruction is still pending; nothing is processing.
    assert overview.metrics.queue_depth == QueueCounts(pending=1, processing=0)
    assert overview.projects.feature_table.hands_today == 1
    assert overview.projects.feature_table.status == "active"
    body = response.content.decode()
    assert f'data-hand-id="{hand.pk}"' in body
    assert "error_rate_spike" in body
    assert 'id="live-indicator"' in body
    assert "vendor/uplot/uPlot.iife.min.js" in body
    assert response.context["series"]["throughput"][-1] == 1
    # The producer cards say when each producer was last seen, not "never".
    seen = timezone.localtime(hand.created_at).strftime("%H:%M:%S")
    assert f"Last activity {seen}" in body


def _section(body: str, element_id: str, end: str) -> str:
    """The HTML from the element with `element_id` to the first `end` tag after it."""
    start = body.index(f'id="{element_id}"')
    return body[start : body.index(end, start)]


OVERVIEW_PAGES = ["monitoring:overview", "monitoring:overview-summary"]


def zone_at_noon() -> str:
    """A time zone (not UTC's, unless it is noon in UTC) in which it is about noon now, so that
    "two hours ago" is today and shown as a bare time, whatever the hour the suite runs at."""
    offset = (12 - timezone.now().hour + 12) % 24 - 12  # hours east of UTC, -12 … 11
    # The Etc/GMT names count the other way: Etc/GMT-5 is UTC+5.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


@pytest.mark.parametrize("page", OVERVIEW_PAGES)
def test_it_shows_the_time_of_each_active_alert(browser, settings, page):
    settings.TIME_ZONE = zone_at_noon()  # the page speaks the hub's local time
    now = timezone.now()
    warning = MonitoringEvent.objects.create(
        type="anomaly",
        code="delayed_instruction",
        severity="warning",
        source="monitor",
        message="Instruction 7 has been pending for 41 min",
    )
    error = MonitoringEvent.objects.create(
        type="alert", code="error_rate_spike", severity="error", source="monitor", message="boom"
    )
    MonitoringEvent.objects.filter(pk=warning.pk).update(created_at=now - timedelta(minutes=5))
    MonitoringEvent.objects.filter(pk=error.pk).update(created_at=now - timedelta(hours=2))

    response = browser.get(reverse(page))

    assert response.status_code == HTTPStatus.OK
    alerts = _section(response.content.decode(), "active-alerts", "</section>")
    for event in (warning, error):
        event.refresh_from_db()
        shown = timezone.localtime(event.created_at).strftime("%H:%M:%S")
        head = (
            rf"<strong>{event.code}</strong>\s*<span class=\"alert-message\">{event.message}"
            rf"</span>\s*<time[^>]*>{shown}</time>"
        )
        member = rf'<li data-event-id="{event.pk}"><time[^>]*>{shown}</time>\s*{event.message}'
        assert re.search(head, alerts), (shown, alerts)
        assert re.search(member, alerts), (shown, alerts)


@pytest.mark.parametrize("page", OVERVIEW_PAGES)
def test_it_groups_open_alerts_of_one_code_links_their_subject_and_dates_yesterdays(
    browser, settings, page
):
    settings.TIME_ZONE = "UTC"
    now = timezone.now()
    rows = [
        MonitoringEvent.objects.create(
            type="alert",
            code="job_failed_permanently",
            severity="error",
            source="render_queue",
            message=f"Instruction {n} failed",
            instruction=instruction(),
        )
        for n in range(3)
    ]
    earlier = now - timedelta(days=1, hours=1)
    MonitoringEvent.objects.filter(pk=rows[0].pk).update(created_at=earlier)
    MonitoringEvent.objects.create(
        type="alert", code="error_rate_spike", severity="error", source="monitor",
        message="simulated spike", simulated=True,
    )  # fmt: skip

    alerts = _section(browser.get(reverse(page)).content.decode(), "active-alerts", "</section>")

    assert alerts.count('class="alert-group ') == 1  # one row for the three, none simulated
    assert "simulated spike" not in alerts
    assert 'title="3 open alerts of this kind">\u00d73</span>' in alerts
    newest = rows[2]
    target = newest.instruction_id
    assert f'href="/instructions/{target}/">instruction {target}</a>' in alerts
    assert f"{earlier:%b} {earlier.day} {earlier:%H:%M:%S}" in alerts


@pytest.mark.parametrize("page", OVERVIEW_PAGES)
def test_it_shows_when_each_producer_was_last_active(browser, settings, page):
    settings.TIME_ZONE = zone_at_noon()
    now = timezone.now()
    seen = {
        "feature_table": now - timedelta(minutes=3, seconds=11),
        "sub": now - timedelta(hours=1, minutes=9, seconds=2),
    }
    for role, moment in seen.items():
        key, _ = api_key_create(role=role)
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=moment)

    body = browser.get(reverse(page)).content.decode()

    for role, moment in seen.items():
        card = _section(body, f"producer-{role}", "</div>")
        assert f"Last activity {timezone.localtime(moment):%H:%M:%S}" in card
    assert "Last activity never" in _section(body, "producer-ae", "</div>")


def test_it_filters_and_paginates_instructions(browser):
    for n in range(30):
        instruction(template_name="lower_third" if n % 2 else "leaderboard")
    response = browser.get(reverse("rendering:instructions"), {"template": "leader"})
    page = response.context["page_obj"]
    assert page.paginator.count == 15
    assert {row.template_name for row in page.object_list} == {"leaderboard"}

    second = browser.get(reverse("rendering:instructions"), {"page": 2})
    assert len(second.context["page_obj"].object_list) == 5
    assert 'data-live-insert="true"' not in second.content.decode()

    bogus = browser.get(reverse("rendering:instructions"), {"status": "nonsense"})
    assert bogus.status_code == HTTPStatus.OK
    assert bogus.context["filters"]["status"] == []


def test_it_shows_an_instruction_with_its_timeline_and_preview(browser):
    hand = premium_hand(7)
    row = hand.instructions.get()
    output = png_output(row)

    response = browser.get(reverse("rendering:instruction", args=[row.pk]))

    assert response.status_code == HTTPStatus.OK
    titles = [entry.title for entry in response.context["timeline"]]
    assert titles[0] == "Created"
    assert "Output completed" in titles
    assert reverse("rendering:output-preview", args=[output.pk]) in response.content.decode()
    assert browser.get(reverse("rendering:instruction", args=[999999])).status_code == 404


def test_it_serves_the_preview_image_only_from_the_output_root(browser, tmp_path):
    row = instruction()
    output = png_output(row)
    response = browser.get(reverse("rendering:output-preview", args=[output.pk]))
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"

    outside = tmp_path / "secret.png"
    outside.write_bytes(b"\x89PNG not yours")
    escaping = RenderOutput.objects.create(
        instruction=instruction(), output_path=str(outside), status="failed"
    )
    traversal = RenderOutput.objects.create(
        instruction=instruction(), output_path="../secret.png", status="failed"
    )
    for bad in (escaping, traversal):
        assert browser.get(reverse("rendering:output-preview", args=[bad.pk])).status_code == 404
    assert Client().get(reverse("rendering:output-preview", args=[output.pk])).status_code == 302


def test_it_shows_the_hand_chain_to_its_outputs(browser):
    hand = premium_hand(3)
    row = hand.instructions.get()
    output = png_output(row)
    response = browser.get(reverse("rendering:hand", args=[hand.pk]))
    assert response.status_code == HTTPStatus.OK
    assert [i.pk for i in response.context["instructions"]] == [row.pk]
    assert [o.pk for o in response.context["outputs"]] == [output.pk]


def test_it_filters_events(browser):
    MonitoringEvent.objects.create(
        type="alert", code="orphan_hand", severity="warning", source="t", message="a"
    )
    MonitoringEvent.objects.create(
        type="alert",
        code="job_failed_permanently",
        severity="error",
        source="t",
        message="b",
        resolved=True,
    )
    response = browser.get(reverse("monitoring:events"), {"severity": "error"})
    assert [e.code for e in response.context["page_obj"].object_list] == ["job_failed_permanently"]
    response = browser.get(reverse("monitoring:events"), {"resolved": "false"})
    assert [e.code for e in response.context["page_obj"].object_list] == ["orphan_hand"]
    response = browser.get(reverse("monitoring:events"), {"code": "orphan_hand"})
    assert response.context["page_obj"].paginator.count == 1


def test_it_renders_the_page_at_the_live_seq_read_before_its_rows(
    browser, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        hand = premium_hand(1)  # hand_created + instruction_updated, after commit
    from automation_hub.live import live_last_seq

    seq = live_last_seq()
    assert seq >= 2
    response = browser.get(reverse("rendering:instructions"))
    assert response.context["live_seq"] == seq
    assert f'data-live-seq="{seq}"' in response.content.decode()
    assert f'data-instruction-id="{hand.instructions.get().pk}"' in response.content.decode()
