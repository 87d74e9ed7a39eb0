from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_it_answers_liveness_without_credentials(anon_client):
    response = anon_client.get(reverse("health"))
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


def test_it_reports_ready_when_database_and_broker_answer(anon_client, settings):
    if settings.HUB_MODE == "production":
        from tests.conftest import redis_unreachable, require_service

        require_service("Redis", redis_unreachable(settings.REDIS_URL))
    response = anon_client.get(reverse("health-ready"))
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["checks"] == {"database": "ok", "broker": "ok"}
    assert body["mode"] == settings.HUB_MODE


def test_it_reports_not_ready_when_the_broker_is_down(anon_client, settings):
    settings.HUB_MODE = "production"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = anon_client.get(reverse("health-ready"))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    body = response.json()
    assert body["status"] == "unavailable"
    # Up or down only: a driver's error text names hosts, ports and users.
    assert body["checks"] == {"database": "ok", "broker": "down"}
    assert "127.0.0.1" not in response.content.decode()


def test_it_tells_people_why_a_dependency_is_down(anon_client, django_user_model, settings):
    admin = django_user_model.objects.create_superuser("chief", password="chief-pass-1")
    settings.HUB_MODE = "production"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    anon_client.force_login(admin)

    response = anon_client.get(reverse("health-ready"))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "Connection" in response.json()["checks"]["broker"]


def test_it_keeps_the_schema_and_swagger_ui_for_people_unless_docs_are_public(
    anon_client, key_client, settings
):
    schema, docs = reverse("schema"), reverse("swagger-ui")
    assert anon_client.get(schema).status_code == HTTPStatus.UNAUTHORIZED
    assert anon_client.get(docs).status_code == HTTPStatus.UNAUTHORIZED
    assert key_client("sub").get(schema).status_code == HTTPStatus.FORBIDDEN

    settings.API_DOCS_PUBLIC = True

    assert anon_client.get(schema).status_code == HTTPStatus.OK
    assert anon_client.get(docs).status_code == HTTPStatus.OK


def test_it_serves_the_openapi_schema_and_swagger_ui_offline(person_client):
    schema = person_client.get(reverse("schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == HTTPStatus.OK
    docs = person_client.get(reverse("swagger-ui"))
    assert docs.status_code == HTTPStatus.OK
    html = docs.content.decode()
    assert "swagger-ui" in html
    # Served from the hub's own static files, never a CDN.
    assert "cdn." not in html and "unpkg" not in html


def test_it_names_a_worker_cluster_that_is_down_while_the_hub_still_serves(
    anon_client, engineer, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from automation_hub.models import HubProcess

    if settings.HUB_MODE == "production":
        from tests.conftest import redis_unreachable, require_service

        require_service("Redis", redis_unreachable(settings.REDIS_URL))
    now = timezone.now()
    beat = {"host": "hub-1", "beat_at": now, "started_at": now}
    HubProcess.objects.create(name="web", state="running", pid=10, **beat)
    HubProcess.objects.create(
        name="render-workers", state="restarting", restarts=2, last_exit="killed by SIGKILL", **beat
    )
    HubProcess.objects.create(
        name="ops-workers", state="running", host="hub-1", beat_at=now - timedelta(seconds=60)
    )
    HubProcess.objects.create(name="old-part", state="stopped", host="hub-1", beat_at=now)

    response = anon_client.get(reverse("health-ready"))

    assert response.status_code == HTTPStatus.OK  # this web server still serves
    body = response.json()
    assert body["status"] == "degraded"
    # A probe learns which part is down, not why.
    assert body["processes"] == {"ops-workers": "down", "render-workers": "down", "web": "ok"}
    anon_client.force_login(engineer)  # a person (the dashboard's badge) learns why
    assert anon_client.get(reverse("health-ready")).json()["processes"] == {
        "ops-workers": "no heartbeat for 60 s",
        "render-workers": "restarting after killed by SIGKILL (2 restarts so far)",
        "web": "ok",
    }
