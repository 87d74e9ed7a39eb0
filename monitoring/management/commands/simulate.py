from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from automation_hub.journal import simulated_traffic
from monitoring.services.detectors import monitor_run
from monitoring.simulation import INJECTIONS, simulate


class Command(BaseCommand):
    help = (
        "Play N minutes of broadcast traffic through the real API (fast-forwarded), optionally "
        "with an injected fault, then run the detectors once. Writes to the configured database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--minutes", type=int, default=120)
        parser.add_argument("--hands-per-minute", type=float, default=2.0)
        parser.add_argument("--fail-rate", type=float, default=0.03)
        parser.add_argument("--inject", choices=INJECTIONS, default=None)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-detect", action="store_true", help="do not run the detectors")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["minutes"] <= 24 * 60:
            raise CommandError("--minutes must be 1 … 1440")
        if not 0 < options["hands_per_minute"] <= 600:
            raise CommandError("--hands-per-minute must be > 0 and ≤ 600")
        if not 0 <= options["fail_rate"] <= 1:
            raise CommandError("--fail-rate must be 0 … 1")
        # What the detectors raise about fabricated traffic is marked simulated: it stays out of
        # the live alert list (the events page and API show it when asked).
        with simulated_traffic():
            result = simulate(
                minutes=options["minutes"],
                hands_per_minute=options["hands_per_minute"],
                fail_rate=options["fail_rate"],
                inject=options["inject"],
                seed=options["seed"],
            )
            summary: dict[str, Any] = {"simulation": result.as_dict()}
            if not options["no_detect"]:
                summary["detectors"] = monitor_run(now=result.end).as_dict()
        self.stdout.write(json.dumps(summary, indent=2))
