"""`manage.py nexrender_follower`: follows every Nexrender job in flight (see
rendering/services/nexrender_follower.py)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from rendering.services.nexrender_follower import nexrender_follow


class Command(BaseCommand):
    help = (
        "Follow the Nexrender jobs the render workers submitted: progress, completion, failure, "
        "stuck and saturated jobs, with one status call a poll (SIGTERM stops it; its jobs "
        "stay on the server for the next start to adopt)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(
            f"nexrender follower: {settings.NEXRENDER_URL}, polling every "
            f"{settings.NEXRENDER_POLL_SECONDS} s, up to {settings.NEXRENDER_MAX_IN_FLIGHT} jobs"
        )
        self.stdout.flush()
        nexrender_follow(stop=stop)
        self.stdout.write("nexrender follower stopped")
