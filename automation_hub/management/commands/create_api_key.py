from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from automation_hub.errors import HubError
from automation_hub.models import ProducerRole
from automation_hub.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a producer. The key is printed once, alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", choices=ProducerRole.values)
        parser.add_argument("--name", default="", help="a label, e.g. the machine's name")

    def handle(self, *args: Any, role: str, name: str, **options: Any) -> None:
        try:
            key, raw_key = api_key_create(role=role, name=name)
        except HubError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(
            f"Created API key {key.name!r} (role {key.role}, prefix {key.prefix}). "
            "It is shown once; send it as 'Authorization: Api-Key <key>'."
        )
        self.stdout.write(raw_key)
