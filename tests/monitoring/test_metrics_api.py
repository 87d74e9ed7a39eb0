"""Metrics, dashboard, data flow and /metrics, computed from rows with known timestamps."""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from automation_hub.models import ApiKey, MonitoringEvent
from monitoring.histogram import RELATIVE_RESOLUTION
from tests.monitoring.helpers import make_hand, make_instruction, make_output

pytestmark = pytest.mark.django_db


def completed(minutes_ago: float, took_seconds: float, **fields):
    # One clock reading for both ends, so the latency is exact however slow the machine is.
    finished = timezone.now() - timedelta(minutes=minutes_ago)
    return make_instruction(
        status="completed",
        created_at=finished - timedelta(seconds=took_seconds),
        finished_at=finished,
        **fields,
    )


def failed(minutes_ago: float, **fields):
    return make_instruction(
        status="failed",
        age=timedelta(minutes=minutes_ago, seconds=5),
        finished_at=timezone.now() - timedelta(minutes=minutes_ago),
        **fields,
    )


def test_it_counts_throughput_in_the_window_with_a_series(person_client):
    for minutes in (2, 3, 50):
        completed(minutes, 10)
    completed(70, 10)  # outside the hour
    failed(4)

    body = person_client.get(reverse("metrics-throughput"), {"window": "1h"}).json()

    assert body["window"] == "1h"
    assert body["value"] == 3
    assert body["per_hour"] == 3.0
    assert body["bucket_seconds"] == 300
    assert len(body["series"]) == 12
    assert sum(b["value"] for b in body["series"]) == 3
    assert body["series"][-1]["value"] == 2  # the last five minutes
    assert body["series"][1]["value"] == 1  # 50 minutes ago: the second bucket


def test_it_measures_latency_percentiles_from_created_to_completed(person_client):
    for seconds in range(1, 21):  # 1 … 20 s
        completed(5, seconds)
    completed(90, 1000)  # outside the hour

    body = person_client.get(reverse("metrics-latency"), {"window": "1h"}).json()

    assert body["count"] == 20
    # Percentiles come from the latency histogram: within its stated resolution.
    assert body["p50_seconds"] == pytest.approx(10, rel=RELATIVE_RESOLUTION)
    assert body["p95_seconds"] == pytest.approx(19, rel=RELATIVE_RESOLUTION)
    assert body["avg_seconds"] == pytest.approx(10.5, abs=0.01)  # exact: from the sum
    assert body["value"] == body["p50_seconds"]
    assert sum(b["count"] for b in body["series"]) == 20


def test_it_reports_no_latency_when_nothing_completed(person_client):
    body = person_client.get(reverse("metrics-latency"), {"window": "15m"}).json()

    assert (body["count"], body["p50_seconds"], body["p95_seconds"]) == (0, None, None)
    assert len(body["series"]) == 15


def test_it_computes_the_error_rate_of_finished_jobs(person_client):
    for _ in range(9):
        completed(10, 5)
    failed(10)
    failed(60 * 5)  # outside 1h, inside 24h
    make_instruction(status="pending")

    one_hour = person_client.get(reverse("metrics-error-rate"), {"window": "1h"}).json()
    day = person_client.get(reverse("metrics-error-rate"), {"window": "24h"}).json()

    assert (one_hour["failed"], one_hour["finished"], one_hour["value"]) == (1, 10, 0.1)
    assert (day["failed"], day["finished"]) == (2, 11)
    assert len(day["series"]) == 24


def test_it_rejects_an_unknown_window(person_client):
    response = person_client.get(reverse("metrics-throughput"), {"window": "7d"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "window" in response.json()["errors"]


def test_it_shows_queue_depth_by_status_and_priority(person_client):
    make_instruction(status="pending", priority=1, age=timedelta(minutes=40))
    make_instruction(status="pending", priority=5)
    make_instruction(status="pending", priority=5)
    make_instruction(status="processing")
    make_instruction(status="completed")

    body = person_client.get(reverse("metrics-queue-depth")).json()

    assert (body["pending"], body["processing"], body["stale"]) == (3, 1, 0)
    assert body["pending_by_priority"] == {"1": 1, "5": 2}
    assert body["oldest_pending_seconds"] >= 40 * 60


def test_it_summarises_the_dashboard_as_the_spec_shapes_it(person_client, key_client, settings):
    settings.MONITOR_PRODUCER_STALE_SECONDS = 300
    settings.MONITOR_ORPHAN_GRACE_SECONDS = 120
    settings.MONITOR_DELAYED_PENDING_MINUTES = 30
    make_hand(premium=True, age=timedelta(minutes=10))  # orphan
    hand = make_hand(premium=True)
    done = completed(5, 20, hand=hand)
    make_output(done)
    failed(6)
    make_instruction(status="pending", age=timedelta(minutes=45))  # delayed
    make_instruction(status="processing", claimed_by="w1", heartbeat_at=timezone.now())
    key_client("sub")  # a sub key that was never used
    ApiKey.objects.filter(role="sub").update(last_used_at=timezone.now() - timedelta(hours=1))
    MonitoringEvent.objects.create(
        type="anomaly",
        code="delayed_instruction",
        severity="warning",
        source="monitor",
        message="m",
    )
    MonitoringEvent.objects.create(
        type="operation", code="manual_retry", severity="info", source="manual", message="m"
    )

    response = person_client.get(reverse("dashboard"))

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"projects", "metrics", "active_alerts", "data_flow_health"}
    feature = body["projects"]["feature_table"]
    assert feature["status"] == "active"
    assert feature["hands_today"] >= 1  # both hands unless the test runs just after midnight
    assert body["projects"]["sub"]["instructions_created"] >= 3
    ae = body["projects"]["ae"]
    assert ae["status"] == "active"  # a heartbeat just now
    assert ae["worker_status"]["processing"] == 1
    assert ae["worker_status"]["workers"] == 1
    assert ae["outputs_completed"] == 1
    metrics = body["metrics"]
    assert metrics["throughput_1h"] == 1
    assert metrics["avg_latency_1h"] == pytest.approx(20, abs=0.01)
    assert metrics["error_rate_1h"] == 0.5
    assert metrics["queue_depth"] == {"pending": 1, "processing": 1}
    assert [a["code"] for a in body["active_alerts"]] == ["delayed_instruction"]
    health = body["data_flow_health"]
    assert (health["orphan_hands"], health["delayed_instructions"]) == (1, 1)
    assert health["completion_rate"] == pytest.approx(1 / 4, abs=0.001)


def test_it_marks_a_silent_producer_stale_and_an_unseen_one_idle(person_client, settings):
    settings.MONITOR_PRODUCER_STALE_SECONDS = 300
    make_hand(premium=False, age=timedelta(minutes=6))

    projects = person_client.get(reverse("dashboard")).json()["projects"]

    assert projects["feature_table"]["status"] == "stale"
    assert projects["sub"]["status"] == "idle"
    assert projects["ae"]["status"] == "idle"


def test_it_tells_one_hands_story_with_its_correlated_events(person_client):
    hand = make_hand()
    first = make_instruction(status="failed", hand=hand, age=timedelta(minutes=10))
    second = completed(1, 5, hand=hand)
    output = make_output(second)
    MonitoringEvent.objects.create(
        type="operation",
        code="manual_retry",
        source="manual",
        message="m",
        correlation_id=hand.correlation_id,
    )
    MonitoringEvent.objects.create(type="system", code="other", source="x", message="unrelated")

    response = person_client.get(reverse("data-flow"), {"hand_id": hand.pk})

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["hand"]["id"] == hand.pk
    assert [i["id"] for i in body["instructions"]] == [first.pk, second.pk]
    assert [o["id"] for o in body["outputs"]] == [output.pk]
    assert [(s["stage"], s["status"]) for s in body["status_chain"]] == [
        ("hand", "received"),
        ("instruction", "failed"),
        ("instruction", "completed"),
        ("output", "completed"),
    ]
    assert [e["code"] for e in body["events"]] == ["manual_retry"]
    assert body["complete"] is True


def test_it_validates_the_data_flow_hand_id(person_client, anon_client):
    assert person_client.get(reverse("data-flow")).status_code == HTTPStatus.BAD_REQUEST
    assert person_client.get(reverse("data-flow"), {"hand_id": "x"}).status_code == 400
    assert person_client.get(reverse("data-flow"), {"hand_id": 999999}).status_code == 404
    assert anon_client.get(reverse("dashboard")).status_code == HTTPStatus.UNAUTHORIZED


def test_it_serves_prometheus_text_to_a_metrics_key_and_to_people_only(
    anon_client, person_client, key_client
):
    make_instruction(status="pending")
    completed(5, 12)
    url = reverse("prometheus-metrics")

    scraped = key_client("metrics").get(url)
    signed_in = person_client.get(url)
    # Loopback is no credential: a reverse proxy on the hub's host makes every client local.
    local = anon_client.get(url, REMOTE_ADDR="127.0.0.1")
    other_keys = {role: key_client(role).get(url).status_code for role in ("sub", "ae")}

    assert scraped.status_code == HTTPStatus.OK
    assert scraped["Content-Type"].startswith("text/plain")
    text = scraped.content.decode()
    assert 'hub_queue_depth{status="pending"} 1' in text
    assert "hub_completed_1h 1" in text
    p50 = re.search(r'^hub_latency_1h_seconds\{quantile="0.5"\} (\S+)$', text, re.M)
    assert float(p50.group(1)) == pytest.approx(12, rel=RELATIVE_RESOLUTION)
    assert "# TYPE hub_error_rate_1h gauge" in text
    assert signed_in.status_code == HTTPStatus.OK
    assert local.status_code == HTTPStatus.UNAUTHORIZED
    assert other_keys == {"sub": HTTPStatus.FORBIDDEN, "ae": HTTPStatus.FORBIDDEN}


def test_it_lets_anyone_scrape_when_metrics_are_public(anon_client, settings):
    settings.METRICS_PUBLIC = True

    response = anon_client.get(reverse("prometheus-metrics"), REMOTE_ADDR="192.0.2.7")

    assert response.status_code == HTTPStatus.OK
    assert "hub_queue_depth" in response.content.decode()


def test_it_marks_the_ae_producer_degraded_while_a_renderer_circuit_is_open(person_client):
    from rendering.models import CircuitBreaker

    CircuitBreaker.objects.create(backend="nexrender", state="open", last_error="refused")

    dashboard = person_client.get(reverse("dashboard")).json()
    status = person_client.get(reverse("orchestrator-status")).json()

    assert dashboard["projects"]["ae"]["status"] == "degraded"
    assert dashboard["projects"]["ae"]["worker_status"]["open_circuits"] == ["nexrender"]
    blocks = {b["name"]: b for b in status["blocks"]}
    assert blocks["renderer:nexrender"]["status"] == "failed"
    assert blocks["renderer:nexrender"]["last_error"] == "refused"
    assert status["overall"] == "failed"
