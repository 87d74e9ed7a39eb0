"""Anomaly detection accuracy: precision and recall per detector over seeded scenarios.

Each scenario plays --minutes of traffic through the simulator (the real hand and instruction
APIs, fast-forwarded), clean or with one injected fault, on an empty database, then runs the
detectors once at the end of the simulated window. A detector "fired" when it opened an event
in that run. Ground truth is the injection: it should fire exactly in its own scenarios.
Runs in the embedded mode on a throw-away SQLite database unless --database-url is given.

    .venv/bin/python bench/anomaly_accuracy.py            # 8 clean + 4 per fault = 24 scenarios
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DETECTOR_OF = {
    "delayed": "delayed_instruction",
    "orphan": "orphan_hand",
    "error_spike": "error_rate_spike",
    "throughput_drop": "throughput_drop",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clean", type=int, default=8)
    parser.add_argument("--per-fault", type=int, default=4)
    parser.add_argument("--minutes", type=int, default=125)
    parser.add_argument("--hands-per-minute", type=float, default=1.0)
    parser.add_argument("--fail-rate", type=float, default=0.03)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    os.environ["HUB_VAR_DIR"] = tempfile.mkdtemp(prefix="hub-accuracy-")
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
        os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ["DJANGO_SETTINGS_MODULE"] = "automation_hub.settings"
    os.environ["LOG_LEVEL"] = "ERROR"

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from automation_hub.models import ApiKey, MonitoringEvent
    from hands.models import Hand
    from monitoring.services.detectors import DETECTOR_CODES, monitor_run
    from monitoring.simulation import simulate
    from rendering.models import RenderInstruction, RenderOutput
    from rendering.services import dispatch, instructions

    if settings.DB_VENDOR == "postgresql":
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    # No render workers here: the simulator's stand-in worker finishes the jobs.
    instructions.instruction_dispatch = lambda *, instruction_id: None
    dispatch.instruction_dispatch = lambda *, instruction_id: None

    scenarios = [(None, seed) for seed in range(args.clean)]
    for fault in DETECTOR_OF:
        scenarios += [(fault, 100 + seed) for seed in range(args.per_fault)]

    outcomes = []
    started = time.perf_counter()
    for fault, seed in scenarios:
        MonitoringEvent.objects.all().delete()
        RenderOutput.objects.all().delete()
        RenderInstruction.objects.all().delete()
        Hand.objects.all().delete()
        ApiKey.objects.all().delete()
        result = simulate(
            minutes=args.minutes,
            hands_per_minute=args.hands_per_minute,
            fail_rate=args.fail_rate,
            inject=fault,
            seed=seed,
        )
        monitor_run(now=result.end)
        fired = set(MonitoringEvent.objects.filter(type="anomaly").values_list("code", flat=True))
        outcomes.append({"inject": fault, "seed": seed, "fired": sorted(fired)})

    per_detector = {}
    for fault, code in DETECTOR_OF.items():
        tp = sum(1 for o in outcomes if o["inject"] == fault and code in o["fired"])
        fp = sum(1 for o in outcomes if o["inject"] != fault and code in o["fired"])
        fn = sum(1 for o in outcomes if o["inject"] == fault and code not in o["fired"])
        per_detector[code] = {
            "true_positives": tp,
            "false_positives": fp,
            "false_negatives": fn,
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        }
    assert set(per_detector) == set(DETECTOR_CODES)
    print(
        json.dumps(
            {
                "benchmark": "anomaly_accuracy",
                "database": settings.DB_VENDOR,
                "scenarios": len(scenarios),
                "minutes_per_scenario": args.minutes,
                "hands_per_minute": args.hands_per_minute,
                "clean_fail_rate": args.fail_rate,
                "seconds": round(time.perf_counter() - started, 1),
                "detectors": per_detector,
                "misclassified": [
                    o
                    for o in outcomes
                    if sorted(o["fired"]) != ([DETECTOR_OF[o["inject"]]] if o["inject"] else [])
                ],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
