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


def test_it_tells_staff_why_a_dependency_is_down(anon_client, django_user_model, settings):
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
