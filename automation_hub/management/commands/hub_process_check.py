"""`manage.py hub_process_check NAME`: exit 0 while this host's supervised NAME runs and beats
(a container health check), else 1 with the reason."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from automation_hub.models import HubProcess


class Command(BaseCommand):
    help = "Health check of one supervised process of this host (docker-compose)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        row = HubProcess.objects.filter(name=name, host=socket.gethostname()).first()
        if row is None:
            raise CommandError(f"{name}: no heartbeat from this host yet")
        age = timezone.now() - row.beat_at
        if age > timedelta(seconds=settings.HUB_PROCESS_STALE_SECONDS):
            raise CommandError(f"{name}: no heartbeat for {int(age.total_seconds())} s")
        if row.state != HubProcess.State.RUNNING:
            raise CommandError(f"{name}: {row.state} (last exit: {row.last_exit or '?'})")
        self.stdout.write(f"{name}: running (pid {row.pid}, {row.restarts} restarts)")
