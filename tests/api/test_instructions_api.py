from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from rendering.models import RenderInstruction
from rendering.services import dispatch

pytestmark = pytest.mark.django_db

LOWER_THIRD = {
    "template_name": "lower_third",
    "layer_data": {"player_name": "Phil Ivey", "chips": "1,250,000"},
    "output_settings": {"format": "PNG", "resolution": "1920x1080"},
    "priority": 3,
    "trigger_type": "elimination",
    "trigger_id": "sheet-7",
}


@pytest.fixture
def sub(key_client):
    return key_client("sub")


def test_it_creates_an_instruction_and_wakes_the_workers_after_commit(
    sub, monkeypatch, django_capture_on_commit_callbacks
):
    woken: list[int] = []
    monkeypatch.setattr(
        dispatch,
        "instruction_dispatch",
        lambda *, instruction_id: woken.append(instruction_id),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = sub.post(reverse("instruction-list"), LOWER_THIRD, format="json")

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    instruction = RenderInstruction.objects.get(pk=body["id"])
    assert instruction.status == "pending"
    assert instruction.priority == 3
    assert instruction.output_settings == {
        "format": "PNG",
        "resolution": "1920x1080",
        "fps": 30,
        "frame_count": 1,
    }
    assert instruction.created_by == "api-key:test-sub"
    assert woken == [instruction.pk]


def test_it_returns_the_first_instruction_for_a_resend_with_the_same_idempotency_key(sub):
    payload = {**LOWER_THIRD, "idempotency_key": "sheet-7-row-3"}
    first = sub.post(reverse("instruction-list"), payload, format="json")
    again = sub.post(reverse("instruction-list"), payload, format="json")

    assert first.status_code == HTTPStatus.CREATED
    assert again.status_code == HTTPStatus.OK
    assert again.json()["id"] == first.json()["id"]
    assert RenderInstruction.objects.count() == 1


def test_it_takes_the_idempotency_key_from_the_header_too(sub):
    first = sub.post(
        reverse("instruction-list"), LOWER_THIRD, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = sub.post(
        reverse("instruction-list"), LOWER_THIRD, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert (first.status_code, again.status_code) == (HTTPStatus.CREATED, HTTPStatus.OK)
    assert RenderInstruction.objects.get().idempotency_key == "k-1"


def test_it_refuses_a_reused_idempotency_key_with_other_content_with_409(sub):
    sub.post(reverse("instruction-list"), {**LOWER_THIRD, "idempotency_key": "k"}, format="json")
    response = sub.post(
        reverse("instruction-list"),
        {**LOWER_THIRD, "priority": 9, "idempotency_key": "k"},
        format="json",
    )
    assert response.status_code == HTTPStatus.CONFLICT
    assert list(response.json()["errors"]) == ["priority"]
    assert RenderInstruction.objects.get().priority == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"priority": 0}, "priority"),
        ({"priority": 11}, "priority"),
        ({"template_name": ""}, "template_name"),
        ({"template_name": "../etc/passwd"}, "template_name"),
        ({"layer_data": ["not", "an", "object"]}, "layer_data"),
        ({"output_settings": {"format": "GIF"}}, "output_settings"),
        ({"output_settings": {"resolution": "big"}}, "output_settings"),
        ({"output_settings": {"fps": 0}}, "output_settings"),
        ({"output_settings": {"codec": {"nested": True}}}, "output_settings"),
        ({"trigger_type": "Premium Hand!"}, "trigger_type"),
        ({"hand": 999_999}, "hand"),
        ({"max_retries": 99}, "max_retries"),
    ],
)
def test_it_rejects_bad_instructions_with_field_errors_and_stores_nothing(sub, changes, field):
    response = sub.post(reverse("instruction-list"), {**LOWER_THIRD, **changes}, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"]
    assert RenderInstruction.objects.count() == 0


@pytest.mark.parametrize(("role", "status"), [("feature_table", 403), ("ae", 403), ("sub", 201)])
def test_it_lets_only_sub_and_people_create_instructions(key_client, role, status):
    response = key_client(role).post(reverse("instruction-list"), LOWER_THIRD, format="json")
    assert response.status_code == status
    assert RenderInstruction.objects.count() == (1 if status == 201 else 0)


@pytest.mark.parametrize(
    ("role", "status"), [("sub", 200), ("feature_table", 403), ("ae", 403), ("metrics", 403)]
)
def test_it_shows_instructions_and_their_layer_data_only_to_the_sub_key(key_client, role, status):
    RenderInstruction.objects.create(template_name="x", layer_data={"player_name": "Ivey"})
    response = key_client(role).get(reverse("instruction-list"))
    assert response.status_code == status
    if status == HTTPStatus.OK:
        assert response.json()["results"][0]["layer_data"] == {"player_name": "Ivey"}
    else:
        assert "player_name" not in response.content.decode()


def test_it_filters_instructions_by_status_template_trigger_and_time(person_client):
    old = RenderInstruction.objects.create(template_name="a", status="failed")
    RenderInstruction.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(hours=3)
    )
    RenderInstruction.objects.create(template_name="a", status="completed")
    newest = RenderInstruction.objects.create(template_name="b", trigger_type="csv")

    def ids(**params) -> list[int]:
        response = person_client.get(reverse("instruction-list"), params)
        assert response.status_code == HTTPStatus.OK, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(status="failed") == [old.pk]
    assert len(ids(status="failed,completed")) == 2
    assert ids(template="b") == [newest.pk]
    assert ids(trigger_type="csv") == [newest.pk]
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    assert old.pk not in ids(created_after=since)
    assert ids(created_before=since) == [old.pk]


def test_it_rejects_an_unknown_status_filter_with_400(person_client):
    response = person_client.get(reverse("instruction-list"), {"status": "exploded"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "status" in response.json()["errors"]


def test_it_shows_one_instruction_and_404s_an_unknown_one(person_client):
    instruction = RenderInstruction.objects.create(template_name="x")
    assert (
        person_client.get(reverse("instruction-detail", args=[instruction.pk])).json()[
            "template_name"
        ]
        == "x"
    )
    missing = person_client.get(reverse("instruction-detail", args=[instruction.pk + 1]))
    assert missing.status_code == HTTPStatus.NOT_FOUND


def test_it_keeps_each_producers_idempotency_keys_apart():
    from rest_framework.test import APIClient

    from automation_hub.services import api_key_create

    def desk(name: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(role='sub', name=name)[1]}")
        return client

    def post(client: APIClient, body: dict):
        return client.post(
            reverse("instruction-list"), body, format="json", HTTP_IDEMPOTENCY_KEY="row-3"
        )

    desk_1, desk_2 = desk("desk-1"), desk("desk-2")
    other = {**LOWER_THIRD, "layer_data": {"player_name": "Someone else"}}

    first = post(desk_1, LOWER_THIRD)
    # Another key sending the same key neither gets desk 1's instruction nor a 409 for it...
    theirs = post(desk_2, other)
    # ...and desk 1's resend still finds its own.
    again = post(desk_1, LOWER_THIRD)

    assert (first.status_code, theirs.status_code, again.status_code) == (201, 201, 200)
    assert again.json()["id"] == first.json()["id"] != theirs.json()["id"]
    assert sorted(RenderInstruction.objects.values_list("idempotency_scope", flat=True)) == [
        "key:sub:desk-1",
        "key:sub:desk-2",
    ]
