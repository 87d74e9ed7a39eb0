from __future__ import annotations

import getpass
from datetime import date, datetime, time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from automation_hub.errors import HubError
from rendering.services.transitions.manual import instructions_bulk_retry
from rendering.services.transitions.table import RETRYABLE, Actor


def _moment(value: str) -> datetime:
    """ISO date or date-time; a naive one is read in the hub's TIME_ZONE."""
    try:
        moment = parse_datetime(value)
        if moment is None:
            day: date | None = parse_date(value)
            if day is None:
                raise ValueError
            moment = datetime.combine(day, time.min)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not an ISO date or date-time") from exc
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


class Command(BaseCommand):
    help = (
        "Re-queue the instructions a filter matches, with a reason for the audit trail. "
        "--dry-run only counts them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--status", default="failed", choices=[str(s) for s in RETRYABLE])
        parser.add_argument("--created-after", type=str, default=None)
        parser.add_argument("--created-before", type=str, default=None)
        parser.add_argument("--template", default="", help="template_name")
        parser.add_argument("--trigger-type", default="")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--actor", default="", help="name for the audit trail (login name)")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        criteria = {
            "status": options["status"],
            "created_after": _moment(options["created_after"])
            if options["created_after"]
            else None,
            "created_before": _moment(options["created_before"])
            if options["created_before"]
            else None,
            "template_name": options["template"],
            "trigger_type": options["trigger_type"],
        }
        actor = Actor(name=options["actor"] or f"{getpass.getuser()} (command)", via="command")
        try:
            result = instructions_bulk_retry(
                filter=criteria, reason=options["reason"], actor=actor, dry_run=options["dry_run"]
            )
        except HubError as exc:
            raise CommandError(exc.message) from exc
        ids = ", ".join(map(str, result.ids[:50])) + (" …" if len(result.ids) > 50 else "")
        verb = "would re-queue" if result.dry_run else "re-queued"
        self.stdout.write(f"{verb} {result.count} instruction(s){': ' + ids if ids else ''}")
