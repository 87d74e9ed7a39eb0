"""Monitoring API latency on a broadcast-sized PostgreSQL database.

Fills a dedicated database (its public schema is dropped first) with --hands hands and
--instructions instructions spread over the last 48 hours (bulk INSERT … SELECT from
generate_series; ~90 % completed with an output, 4 % failed, 3 % pending, 1 % processing, 2 %
cancelled), plus events; then lets the metrics rollup catch up (what its every-minute schedule
keeps done on a live hub) and vacuums (what autovacuum keeps done: without it no index-only scan
works on freshly loaded tables); then calls every monitoring endpoint through the whole
Django/DRF stack (no network) and prints JSON: p50/p95 per endpoint in ms, medians over --runs
rounds.

    .venv/bin/python bench/api_latency.py --database-url postgres://postgres@127.0.0.1:5432/wsop_bench_monitor
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


FILL_SQL = [
    # Hands: 1 in 10 premium, created over the last 48 h.
    """
    INSERT INTO hands_hand (table_id, hand_number, source, hand_rank, pot_size, winner, players,
        community_cards, is_premium, correlation_id, content_hash, created_at)
    SELECT 'FT-' || (mod(g, 8)), g, 'rfid',
        CASE WHEN mod(g, 10) = 0 THEN 'royal_flush' ELSE 'two_pair' END,
        1000 + g, 'P1', '[]'::jsonb, '[]'::jsonb, mod(g, 10) = 0, gen_random_uuid(), md5(g::text),
        now() - (random() * interval '48 hours')
    FROM generate_series(1, %(hands)s) AS g
    """,
    # Instructions: status by position, created over 48 h, completed 5 to 120 s later.
    """
    INSERT INTO rendering_renderinstruction (template_name, layer_data, output_settings, status,
        priority, trigger_type, trigger_id, hand_id, correlation_id, idempotency_key, created_by,
        retry_count, max_retries, error_message, claimed_by, lease_id, heartbeat_at,
        next_attempt_at, backend, external_id, render_progress, created_at, updated_at,
        started_at, completed_at)
    SELECT t.template, '{}'::jsonb, '{}'::jsonb, t.status, 1 + mod(t.g, 10), 'manual', '',
        CASE WHEN t.g <= %(hands)s THEN t.g END, gen_random_uuid(), NULL, 'bench', 0, 3, '',
        CASE WHEN t.status = 'processing' THEN 'w' || mod(t.g, 16) ELSE '' END, NULL,
        CASE WHEN t.status = 'processing' THEN now() END, NULL, 'preview', '',
        CASE WHEN t.status = 'completed' THEN 100 ELSE 0 END, t.created, t.created,
        t.created,
        CASE WHEN t.status IN ('completed', 'failed')
             THEN t.created + (5 + random() * 115) * interval '1 second' END
    FROM (
        SELECT g,
            (ARRAY['lower_third','chip_count','premium_royal_flush','elimination'])[1 + mod(g, 4)]
                AS template,
            CASE WHEN mod(g, 100) < 90 THEN 'completed' WHEN mod(g, 100) < 94 THEN 'failed'
                 WHEN mod(g, 100) < 97 THEN 'pending' WHEN mod(g, 100) < 98 THEN 'processing'
                 ELSE 'cancelled' END AS status,
            now() - (random() * interval '48 hours') AS created
        FROM generate_series(1, %(instructions)s) AS g
    ) AS t
    """,
    """
    INSERT INTO rendering_renderoutput (instruction_id, output_path, file_size, frame_count,
        status, error_message, created_at, completed_at)
    SELECT id, '/srv/out/' || id || '.png', 1000, 1, 'completed', '', completed_at, completed_at
    FROM rendering_renderinstruction WHERE status = 'completed'
    """,
    """
    INSERT INTO monitoring_monitoringevent (type, code, severity, source, message, details,
        instruction_id, hand_id, correlation_id, dedup_key, resolved, resolved_by, resolved_at,
        notes, notification, created_at)
    SELECT 'anomaly',
        (ARRAY['delayed_instruction','orphan_hand','error_rate_spike'])[1 + mod(g, 3)],
        (ARRAY['info','warning','error','critical'])[1 + mod(g, 4)], 'monitor', 'bench',
        '{}'::jsonb,
        NULL, NULL, NULL, NULL, mod(g, 50) <> 0, '', NULL, '', '',
        now() - (random() * interval '48 hours')
    FROM generate_series(1, %(events)s) AS g
    """,
    "ANALYZE",
]


def fill(hands: int, instructions: int, events: int) -> dict[str, float]:
    from django.db import connection

    timings = {}
    params = {"hands": hands, "instructions": instructions, "events": events}
    with connection.cursor() as cursor:
        for number, sql in enumerate(FILL_SQL):
            t0 = time.perf_counter()
            cursor.execute(sql, params if "%(" in sql else None)
            timings[f"step{number}_s"] = round(time.perf_counter() - t0, 1)
    return timings


def catch_up() -> dict[str, float]:
    """Roll up what settled (all 48 h after a fill), then VACUUM ANALYZE (autovacuum's job)."""
    from django.db import connection

    from monitoring.services.rollup import metrics_rollup_run

    t0 = time.perf_counter()
    report = metrics_rollup_run()
    timings = {"rollup_s": round(time.perf_counter() - t0, 1), "rollup_minutes": report.minutes}
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    timings["vacuum_s"] = round(time.perf_counter() - t0, 1)
    return timings


ENDPOINTS = [
    "/api/dashboard",
    "/api/metrics/throughput?window=15m",
    "/api/metrics/throughput?window=1h",
    "/api/metrics/throughput?window=24h",
    "/api/metrics/latency?window=15m",
    "/api/metrics/latency?window=1h",
    "/api/metrics/latency?window=24h",
    "/api/metrics/error-rate?window=1h",
    "/api/metrics/error-rate?window=24h",
    "/api/metrics/queue-depth",
    "/api/data-flow?hand_id={hand_id}",
    "/api/events?severity=error,critical&resolved=false",
    "/api/events?code=orphan_hand",
    "/api/orchestrator/status",
    "/metrics",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database of yours")
    parser.add_argument("--hands", type=int, default=200_000)
    parser.add_argument("--instructions", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=20, help="per endpoint and round")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep the data of the last run")
    args = parser.parse_args()

    os.environ["HUB_VAR_DIR"] = tempfile.mkdtemp(prefix="hub-bench-")
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ["DJANGO_SETTINGS_MODULE"] = "automation_hub.settings"
    os.environ["LOG_LEVEL"] = "WARNING"

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    assert settings.DB_VENDOR == "postgresql", "this benchmark needs PostgreSQL"
    fill_timings: dict[str, float] = {}
    if not args.reuse:
        connection.ensure_connection()
        with connection.cursor() as cursor:  # a clean schema each time
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        call_command("migrate", verbosity=0)
        fill_timings = fill(args.hands, args.instructions, args.events)
    fill_timings.update(catch_up())
    user, _ = get_user_model().objects.get_or_create(username="bench")
    client = APIClient(SERVER_NAME="127.0.0.1")
    client.force_authenticate(user=user)  # measure the endpoint, not password hashing
    from hands.models import Hand

    hand_id = Hand.objects.filter(is_premium=True).order_by("-id").values_list("pk", flat=True)[0]

    results: dict[str, dict[str, float]] = {}
    for template in ENDPOINTS:
        url = template.format(hand_id=hand_id)
        p50s, p95s = [], []
        client.get(url)  # warm the plan cache and the connection
        for _ in range(args.runs):
            latencies = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                response = client.get(url)
                latencies.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            p50s.append(percentile(latencies, 0.50))
            p95s.append(percentile(latencies, 0.95))
        results[template.replace("{hand_id}", "N")] = {
            "p50_ms": round(statistics.median(p50s), 2),
            "p95_ms": round(statistics.median(p95s), 2),
        }

    from rendering.models import RenderInstruction

    print(
        json.dumps(
            {
                "benchmark": "monitoring_api_latency",
                "database": settings.DB_VENDOR,
                "hands": Hand.objects.count(),
                "instructions": RenderInstruction.objects.count(),
                "requests_per_endpoint_per_run": args.requests,
                "runs": args.runs,
                "fill_seconds": fill_timings,
                "endpoints": results,
                "p95_under_50ms": [k for k, v in results.items() if v["p95_ms"] < 50],
                "p95_over_50ms": [k for k, v in results.items() if v["p95_ms"] >= 50],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
