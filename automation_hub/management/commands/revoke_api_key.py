from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from automation_hub.errors import HubError
from automation_hub.services import api_key_revoke


class Command(BaseCommand):
    help = "Revoke a producer API key by its prefix (the 12 characters after 'wsop_')."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix")

    def handle(self, *args: Any, prefix: str, **options: Any) -> None:
        try:
            key = api_key_revoke(prefix=prefix)
        except HubError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Revoked {key}")
