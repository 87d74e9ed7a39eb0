from __future__ import annotations

import copy
from http import HTTPStatus

import pytest
from django.urls import reverse

from hands.models import Hand, Tournament
from rendering.models import RenderInstruction

pytestmark = pytest.mark.django_db

ROYAL = {
    "table_id": "FT-1",
    "hand_number": 42,
    "tournament": "WSOP-2026-ME",
    "source": "rfid",
    "hand_rank": "royal_flush",
    "pot_size": 1_250_000,
    "winner": "Daniel Negreanu",
    "players": [
        {"name": "Daniel Negreanu", "seat": 1, "stack": 990_000, "hole_cards": ["As", "Ks"]},
        {"name": "Phil Ivey", "seat": 4, "stack": 450_000, "hole_cards": ["Ad", "Ac"]},
    ],
    "community_cards": ["Qs", "Js", "Ts", "2h", "9d"],
}


def hand(**changes) -> dict:
    payload = copy.deepcopy(ROYAL)
    payload.update(changes)
    return payload


@pytest.fixture
def table(key_client):
    return key_client("feature_table")


def test_it_stores_a_premium_hand_with_its_instruction_in_one_go(table):
    response = table.post(reverse("hand-list"), ROYAL, format="json")

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert body["is_premium"] is True
    assert body["correlation_id"]
    stored = Hand.objects.get(pk=body["id"])
    instruction = RenderInstruction.objects.get(hand=stored)
    assert body["instruction_ids"] == [instruction.pk]
    assert instruction.template_name == "premium_royal_flush"
    assert instruction.priority == 1
    assert instruction.trigger_type == "premium_hand"
    assert instruction.status == "pending"
    assert instruction.correlation_id == stored.correlation_id
    assert instruction.layer_data["winner"] == "Daniel Negreanu"
    assert instruction.layer_data["community_cards"] == ROYAL["community_cards"]


def test_it_stores_an_ordinary_hand_without_an_instruction(table):
    response = table.post(reverse("hand-list"), hand(hand_rank="two_pair"), format="json")

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["is_premium"] is False
    assert response.json()["instruction_ids"] == []
    assert RenderInstruction.objects.count() == 0


def test_it_uses_the_configured_premium_threshold_and_template_rule(table, settings):
    settings.PREMIUM_HAND_MIN_RANK = "four_of_a_kind"
    response = table.post(
        reverse("hand-list"),
        hand(hand_rank="four_of_a_kind", community_cards=["Qs", "Qh", "Qd", "2c", "9d"]),
        format="json",
    )
    assert response.status_code == HTTPStatus.CREATED
    instruction = RenderInstruction.objects.get()
    assert (instruction.template_name, instruction.priority) == ("premium_quads", 3)


def test_it_answers_a_resend_with_the_same_hand_and_duplicates_nothing(table):
    first = table.post(reverse("hand-list"), ROYAL, format="json")
    again = table.post(reverse("hand-list"), ROYAL, format="json")

    assert again.status_code == HTTPStatus.OK
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["instruction_ids"] == first.json()["instruction_ids"]
    assert Hand.objects.count() == 1
    assert RenderInstruction.objects.count() == 1


def test_it_refuses_the_same_table_and_number_with_other_content_with_409(table):
    table.post(reverse("hand-list"), ROYAL, format="json")

    response = table.post(reverse("hand-list"), hand(pot_size=5), format="json")

    assert response.status_code == HTTPStatus.CONFLICT
    body = response.json()
    assert body["code"] == "conflict"
    assert list(body["errors"]) == ["pot_size"]
    assert Hand.objects.get().pot_size == ROYAL["pot_size"]
    assert RenderInstruction.objects.count() == 1


def test_it_creates_an_unknown_tournament_and_lists_it(table, person_client):
    table.post(reverse("hand-list"), ROYAL, format="json")

    assert Tournament.objects.get().code == "WSOP-2026-ME"
    listing = person_client.get(reverse("tournament-list")).json()
    assert [t["code"] for t in listing["results"]] == ["WSOP-2026-ME"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"community_cards": ["Zz"]}, "community_cards"),
        ({"community_cards": ["As", "Kd", "Qh", "Jc", "Ts", "9s"]}, "community_cards"),
        ({"community_cards": ["As", "Kd"]}, "community_cards"),  # As is also a hole card
        ({"pot_size": -1}, "pot_size"),
        ({"hand_rank": "five_aces"}, "hand_rank"),
        ({"source": "telepathy"}, "source"),
        ({"table_id": ""}, "table_id"),
        ({"table_id": "FT 1; DROP"}, "table_id"),
        ({"hand_number": 0}, "hand_number"),
        ({"hand_number": "forty-two"}, "hand_number"),
        (
            {"players": [{"name": "A", "seat": 1}, {"name": "B", "seat": 1}]},
            "players",
        ),
        ({"players": [{"name": "A", "seat": 11}]}, "players"),
    ],
)
def test_it_rejects_bad_hands_with_field_errors_and_stores_nothing(table, changes, field):
    response = table.post(reverse("hand-list"), hand(**changes), format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["errors"]
    assert Hand.objects.count() == 0
    assert RenderInstruction.objects.count() == 0


def test_it_rejects_a_body_that_is_not_json(table):
    response = table.post(reverse("hand-list"), "{not json", content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert Hand.objects.count() == 0


@pytest.mark.parametrize(("role", "status"), [("sub", 403), ("ae", 403), ("feature_table", 201)])
def test_it_lets_only_feature_tables_and_people_post_hands(key_client, role, status):
    response = key_client(role).post(reverse("hand-list"), ROYAL, format="json")
    assert response.status_code == status
    assert Hand.objects.count() == (1 if status == 201 else 0)


def test_it_lets_a_person_post_a_manual_hand(person_client):
    response = person_client.post(reverse("hand-list"), hand(source="manual"), format="json")
    assert response.status_code == HTTPStatus.CREATED
    assert RenderInstruction.objects.get().created_by == "engineer"


def test_it_refuses_anonymous_callers_with_401(anon_client):
    response = anon_client.post(reverse("hand-list"), ROYAL, format="json")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert Hand.objects.count() == 0


def test_it_lists_and_filters_hands_with_pagination(table, person_client):
    for number in range(1, 6):
        rank = "royal_flush" if number == 3 else "high_card"
        table.post(reverse("hand-list"), hand(hand_number=number, hand_rank=rank), format="json")

    premium = person_client.get(reverse("hand-list"), {"is_premium": "true"}).json()
    assert [h["hand_number"] for h in premium["results"]] == [3]
    page = person_client.get(reverse("hand-list"), {"page_size": 2}).json()
    assert page["count"] == 5
    assert len(page["results"]) == 2
    assert page["next"]
    bad = person_client.get(reverse("hand-list"), {"hand_rank": "five_aces"})
    assert bad.status_code == HTTPStatus.BAD_REQUEST
    assert "hand_rank" in bad.json()["errors"]


def test_it_shows_one_hand_and_404s_an_unknown_one(table, person_client):
    created = table.post(reverse("hand-list"), ROYAL, format="json").json()

    shown = person_client.get(reverse("hand-detail", args=[created["id"]]))
    assert shown.status_code == HTTPStatus.OK
    assert shown.json()["winner"] == "Daniel Negreanu"
    missing = person_client.get(reverse("hand-detail", args=[created["id"] + 1000]))
    assert missing.status_code == HTTPStatus.NOT_FOUND
    assert missing.json()["code"] == "not_found"


def test_it_shows_one_tournament(table, person_client):
    table.post(reverse("hand-list"), ROYAL, format="json")
    tournament = Tournament.objects.get()
    response = person_client.get(reverse("tournament-detail", args=[tournament.pk]))
    assert response.status_code == HTTPStatus.OK
    assert response.json()["code"] == "WSOP-2026-ME"
    assert person_client.get(reverse("tournament-detail", args=[999])).status_code == 404
