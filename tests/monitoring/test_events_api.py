from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from automation_hub.models import MonitoringEvent

pytestmark = pytest.mark.django_db


def make_event(**fields) -> MonitoringEvent:
    defaults = {
        "type": "anomaly",
        "code": "delayed_instruction",
        "severity": "warning",
        "source": "monitor",
        "message": "waiting",
    }
    age = fields.pop("age", None)
    event = MonitoringEvent.objects.create(**{**defaults, **fields})
    if age:
        MonitoringEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - age)
    return event


def test_it_lists_events_filtered_by_severity_resolved_code_and_since(person_client):
    error = make_event(severity="error", code="error_rate_spike")
    critical = make_event(severity="critical", code="error_rate_spike")
    make_event(severity="info", code="manual_retry")
    make_event(severity="error", code="error_rate_spike", resolved=True)
    make_event(severity="error", code="error_rate_spike", age=timedelta(days=2))
    since = (timezone.now() - timedelta(hours=1)).isoformat()

    response = person_client.get(
        reverse("event-list"),
        {
            "severity": "error,critical",
            "resolved": "false",
            "code": "error_rate_spike",
            "since": since,
        },
    )

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["count"] == 2
    assert {e["id"] for e in body["results"]} == {error.pk, critical.pk}


def test_it_paginates_events_newest_first(person_client):
    events = [make_event(message=f"m{i}") for i in range(5)]

    response = person_client.get(reverse("event-list"), {"page_size": 2})

    body = response.json()
    assert body["count"] == 5
    assert [e["id"] for e in body["results"]] == [events[4].pk, events[3].pk]
    assert body["next"]


def test_it_rejects_an_unknown_severity_filter(person_client):
    response = person_client.get(reverse("event-list"), {"severity": "panic"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "severity" in response.json()["errors"]


def test_it_shows_one_event_and_404s_an_unknown_one(person_client, key_client):
    event = make_event()

    assert person_client.get(reverse("event-detail", args=[event.pk])).json()["id"] == event.pk
    assert key_client("sub").get(reverse("event-detail", args=[event.pk])).status_code == 403
    assert person_client.get(reverse("event-detail", args=[999999])).status_code == 404


def test_it_resolves_an_event_once_and_tells_the_dashboards(
    person_client, live_events, django_capture_on_commit_callbacks
):
    event = make_event()

    with django_capture_on_commit_callbacks(execute=True):
        response = person_client.post(
            reverse("event-resolve", args=[event.pk]),
            {"notes": "renderer rebooted"},
            format="json",
        )

    assert response.status_code == HTTPStatus.OK
    event.refresh_from_db()
    assert (event.resolved, event.resolved_by, event.notes) == (
        True,
        "engineer",
        "renderer rebooted",
    )
    assert event.resolved_at is not None
    assert [a["id"] for a in live_events.of_type("alert") if a["resolved"]] == [event.pk]

    again = person_client.post(reverse("event-resolve", args=[event.pk]), {}, format="json")
    assert again.status_code == HTTPStatus.CONFLICT
    event.refresh_from_db()
    assert event.resolved_by == "engineer"


def test_it_records_the_caller_and_never_a_resolved_by_from_the_body(person_client):
    event = make_event()

    response = person_client.post(
        reverse("event-resolve", args=[event.pk]),
        {"resolved_by": "somebody else", "notes": ""},
        format="json",
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json()["resolved_by"] == "engineer"
    event.refresh_from_db()
    assert event.resolved_by == "engineer"


def test_it_keeps_resolving_to_people(anon_client, key_client, person_client):
    event = make_event()
    url = reverse("event-resolve", args=[event.pk])

    assert anon_client.post(url, {}, format="json").status_code == 401
    assert key_client("ae").post(url, {}, format="json").status_code == 403
    assert person_client.post(reverse("event-resolve", args=[999999]), {}).status_code == 404
    assert anon_client.get(reverse("event-list")).status_code == 401
    event.refresh_from_db()
    assert event.resolved is False
