from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from monitoring.services.rollup import metrics_rollup_rebuild, metrics_rollup_run


class Command(BaseCommand):
    help = (
        "Roll up the metrics minutes that settled (what the schedule does every minute). "
        "--rebuild-hours N first recomputes the last N hours from the rows and re-checks every "
        "premium hand: after rows were written with past timestamps or deleted by hand."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rebuild-hours", type=float, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        hours = options["rebuild_hours"]
        if hours is None:
            report = metrics_rollup_run()
        elif hours <= 0:
            raise CommandError("--rebuild-hours must be > 0")
        else:
            report = metrics_rollup_rebuild(since=timezone.now() - timedelta(hours=hours))
        self.stdout.write(json.dumps(report.as_dict(), indent=2))
