"""Traffic simulator: a broadcast day compressed into seconds, through the real code paths.

Hands go in through `POST /api/hands` with a feature-table key (so premium hands get their
instruction from the real ingest), lower thirds through `POST /api/instructions` with a sub
key. Time is fast-forwarded: each minute's rows are then dated back to that minute. A stand-in
render worker finishes every job 20 to 90 s after it was created (completed, or failed with
its retries spent at --fail-rate) with conditional UPDATEs from PENDING, as a worker's
complete/fail would. Injected faults:

- delayed: a few jobs are never picked up, early in the window (pending > 30 min at the end);
- orphan: premium hands whose instruction never came (stored without the ingest service);
- error_spike: the last hour fails at 35 %;
- throughput_drop: the tables slow to a quarter of the rate in the last hour.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework.test import APIClient

from automation_hub.services import api_key_create
from hands.models import Hand
from monitoring.services.rollup import metrics_rollup_rebuild
from rendering.models import RenderInstruction
from rendering.services.transitions.simulate import instruction_simulate_outcome

INJECTIONS = ("delayed", "orphan", "error_spike", "throughput_drop")


@dataclass
class SimulationResult:
    hands: int = 0
    instructions: int = 0
    completed: int = 0
    failed: int = 0
    injected: dict[str, int] = field(default_factory=dict)
    end: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "hands": self.hands,
            "instructions": self.instructions,
            "completed": self.completed,
            "failed": self.failed,
            "injected": self.injected,
            "end": self.end.isoformat() if self.end else None,
        }


def _client(role: str) -> APIClient:
    _, raw_key = api_key_create(role=role, name=f"simulator-{role}")
    client = APIClient(SERVER_NAME="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


def _hand_payload(table: str, number: int, premium: bool) -> dict[str, Any]:
    return {
        "table_id": table,
        "hand_number": number,
        "hand_rank": "royal_flush" if premium else "two_pair",
        "pot_size": 1000 + number,
        "winner": "P1",
        "players": [
            {"name": "P1", "seat": 1, "stack": 5000, "hole_cards": ["As", "Ks"]},
            {"name": "P2", "seat": 2, "stack": 5000, "hole_cards": ["2d", "3c"]},
        ],
        "community_cards": ["Qs", "Js", "Ts", "4h", "9d"],
    }


class _Day:
    def __init__(self, *, rng: random.Random, start: datetime, run_tag: str) -> None:
        self.rng = rng
        self.start = start
        self.table = f"SIM-{run_tag}"
        self.number = 0
        self.table_client = _client("feature_table")
        self.sub_client = _client("sub")
        self.result = SimulationResult()

    def _backdate(self, hand_id: int | None, instruction_ids: list[int], at: datetime) -> None:
        if hand_id is not None:
            Hand.objects.filter(pk=hand_id).update(created_at=at)
        RenderInstruction.objects.filter(pk__in=instruction_ids).update(
            created_at=at, updated_at=at
        )

    def hand(self, at: datetime, *, premium: bool) -> list[int]:
        self.number += 1
        response = self.table_client.post(
            "/api/hands", _hand_payload(self.table, self.number, premium), format="json"
        )
        assert response.status_code == 201, response.content
        body = response.json()
        ids = list(body.get("instruction_ids") or [])
        lower_third = self.sub_client.post(
            "/api/instructions",
            {"template_name": "lower_third", "trigger_type": "hand", "hand": body["id"]},
            format="json",
        )
        assert lower_third.status_code == 201, lower_third.content
        ids.append(lower_third.json()["id"])
        self._backdate(body["id"], ids, at)
        self.result.hands += 1
        self.result.instructions += len(ids)
        return ids

    def orphan(self, at: datetime) -> None:
        """A premium hand whose instruction was lost: stored without the ingest service."""
        self.number += 1
        hand = Hand.objects.create(
            table_id=self.table,
            hand_number=self.number,
            hand_rank="royal_flush",
            pot_size=1,
            is_premium=True,
            content_hash=uuid.uuid4().hex,
        )
        self._backdate(hand.pk, [], at)
        self.result.hands += 1

    def render(self, ids: list[int], at: datetime, *, fail_rate: float, now: datetime) -> None:
        for pk in ids:
            done_at = at + timedelta(seconds=self.rng.uniform(20, 90))
            if done_at >= now:
                continue  # still rendering when the day ends: leave it pending
            failed = self.rng.random() < fail_rate
            moved = instruction_simulate_outcome(
                instruction_id=pk, failed=failed, started_at=at, completed_at=done_at
            )
            if moved and failed:
                self.result.failed += 1
            elif moved:
                self.result.completed += 1


def simulate(
    *,
    minutes: int,
    hands_per_minute: float,
    fail_rate: float,
    inject: str | None = None,
    seed: int = 0,
    now: datetime | None = None,
) -> SimulationResult:
    """Play `minutes` of traffic ending at `now`. Deterministic for a given seed."""
    if inject is not None and inject not in INJECTIONS:
        raise ValueError(f"inject must be one of {', '.join(INJECTIONS)}")
    rng = random.Random(seed)  # noqa: S311 (seeded on purpose: reproducible scenarios)
    now = now or timezone.now()
    start = now - timedelta(minutes=minutes)
    day = _Day(rng=rng, start=start, run_tag=f"{seed}-{uuid.uuid4().hex[:6]}")
    last_hour = now - timedelta(hours=1)
    carry = 0.0
    delayed_left = 3 if inject == "delayed" else 0
    for minute in range(minutes):
        at = start + timedelta(minutes=minute, seconds=rng.uniform(0, 50))
        rate = hands_per_minute
        if inject == "throughput_drop" and at >= last_hour:
            rate = hands_per_minute / 4
        carry += rate
        count, carry = int(carry), carry - int(carry)
        for _ in range(count):
            ids = day.hand(at, premium=rng.random() < 0.1)
            if delayed_left and at < now - timedelta(minutes=45):
                delayed_left -= 1
                day.result.injected["delayed"] = day.result.injected.get("delayed", 0) + 1
                continue  # nobody ever picks these up
            failing = fail_rate
            if inject == "error_spike" and at >= last_hour:
                failing = 0.35
            day.render(ids, at, fail_rate=failing, now=now)
        if inject == "orphan" and minute == minutes // 2:
            day.orphan(at)
            day.result.injected["orphan"] = 1
    if inject in ("error_spike", "throughput_drop"):
        day.result.injected[inject] = 1
    day.result.end = now
    # The rows were dated back into minutes the metrics rollup may already hold.
    metrics_rollup_rebuild(since=start)
    return day.result
