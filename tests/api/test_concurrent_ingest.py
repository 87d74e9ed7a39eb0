from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest
from django.db import connection
from django.urls import reverse

from hands.models import Hand
from rendering.models import RenderInstruction
from tests.api.test_hands_api import ROYAL


@pytest.mark.django_db(transaction=True)
def test_it_stores_one_hand_and_one_instruction_when_a_table_posts_twice_at_once(key_client):
    client = key_client("feature_table")
    start = threading.Barrier(4)

    def post(_: int) -> tuple[int, int]:
        try:
            start.wait()
            response = client.post(reverse("hand-list"), ROYAL, format="json")
            return response.status_code, response.json()["id"]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(post, range(4)))

    statuses = sorted(status for status, _ in results)
    assert statuses == [HTTPStatus.OK] * 3 + [HTTPStatus.CREATED]
    assert len({hand_id for _, hand_id in results}) == 1
    assert Hand.objects.count() == 1
    assert RenderInstruction.objects.count() == 1
