"""Hand ingest speed: POST /api/hands through the whole Django/DRF stack (no network).

Runs in one mode per call: embedded by default, production with --database-url/--redis-url.
Prints JSON: hands/s and per-request latency p50/p95 (medians over --runs runs), plus the
idempotent-resend latency. 1 hand in 10 is premium (its instruction is created in the same
transaction).

    .venv/bin/python bench/ingest.py
    .venv/bin/python bench/ingest.py --database-url postgres://postgres@127.0.0.1:5432/wsop_bench \
        --redis-url redis://127.0.0.1:6379/9
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def hand_payload(number: int) -> dict:
    premium = number % 10 == 0
    return {
        "table_id": "FT-B",
        "hand_number": number,
        "tournament": "BENCH",
        "hand_rank": "royal_flush" if premium else "two_pair",
        "pot_size": 1000 + number,
        "winner": "P1",
        "players": [
            {"name": "P1", "seat": 1, "stack": 5000, "hole_cards": ["As", "Ks"]},
            {"name": "P2", "seat": 2, "stack": 5000, "hole_cards": ["2d", "3c"]},
        ],
        "community_cards": ["Qs", "Js", "Ts", "4h", "9d"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hands", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()

    var_dir = tempfile.mkdtemp(prefix="hub-bench-")
    os.environ["HUB_VAR_DIR"] = var_dir
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    if args.redis_url:
        os.environ["REDIS_URL"] = args.redis_url
        os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ["DJANGO_SETTINGS_MODULE"] = "automation_hub.settings"
    os.environ["LOG_LEVEL"] = "WARNING"

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    from automation_hub.services import api_key_create
    from rendering.services import instructions

    if settings.DB_VENDOR == "postgresql":
        connection.ensure_connection()
        with connection.cursor() as cursor:  # a clean schema each time
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    # Measure ingest alone: the queue wake-up is the render queue's own benchmark.
    instructions.instruction_dispatch = lambda *, instruction_id: None

    _, raw_key = api_key_create(role="feature_table", name="bench")
    client = APIClient(SERVER_NAME="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")

    rates, p50s, p95s, resend_p50s = [], [], [], []
    for run in range(args.runs):
        base = run * args.hands + 1
        latencies = []
        started = time.perf_counter()
        for number in range(base, base + args.hands):
            t0 = time.perf_counter()
            response = client.post("/api/hands", hand_payload(number), format="json")
            latencies.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 201, response.content
        rates.append(args.hands / (time.perf_counter() - started))
        p50s.append(percentile(latencies, 0.50))
        p95s.append(percentile(latencies, 0.95))
        resend = []
        for number in range(base, base + min(100, args.hands)):
            t0 = time.perf_counter()
            response = client.post("/api/hands", hand_payload(number), format="json")
            resend.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
        resend_p50s.append(percentile(resend, 0.50))

    print(
        json.dumps(
            {
                "benchmark": "hand_ingest",
                "mode": settings.HUB_MODE,
                "database": settings.DB_VENDOR,
                "hands_per_run": args.hands,
                "runs": args.runs,
                "hands_per_second_median": round(statistics.median(rates), 1),
                "latency_ms_p50_median": round(statistics.median(p50s), 2),
                "latency_ms_p95_median": round(statistics.median(p95s), 2),
                "resend_latency_ms_p50_median": round(statistics.median(resend_p50s), 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
