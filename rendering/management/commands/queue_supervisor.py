"""`manage.py queue_supervisor`: the render queue's recovery loop (services/supervisor.py)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from rendering.services.supervisor import supervisor_run


class Command(BaseCommand):
    help = (
        "Take back jobs of dead workers within seconds, re-queue failed jobs when their backoff "
        "ends and top up wake-ups (one per hub host, beside the workers; SIGTERM stops it)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(
            f"queue supervisor: reaping every {settings.RENDER_REAP_INTERVAL_SECONDS} s "
            f"(lease timeout {settings.RENDER_ZOMBIE_TIMEOUT_SECONDS} s), wake-ups every "
            f"{settings.RENDER_SWEEP_INTERVAL_SECONDS} s"
        )
        supervisor_run(stop=stop)
        self.stdout.write("queue supervisor stopped")
