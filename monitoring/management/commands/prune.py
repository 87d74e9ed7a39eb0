"""`manage.py prune [--dry-run]`: delete what is past its retention (see services/retention.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from monitoring.services.retention import retention_prune


class Command(BaseCommand):
    help = (
        "Delete rows past their retention (events, sync runs, task results, live events, rollups)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would be deleted, delete nothing"
        )

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        counts = retention_prune(dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        for count in counts:
            self.stdout.write(
                f"{count.table:<32} {verb} {count.rows:>8} rows  ({count.rule}; before "
                f"{count.cutoff:%Y-%m-%d %H:%M} UTC)"
            )
        total = sum(count.rows for count in counts)
        self.stdout.write(
            f"{'total':<32} {verb} {total:>8} rows" + (" (dry run)" if dry_run else "")
        )
