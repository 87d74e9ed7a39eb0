from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_queue_schedules(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    # The zombie hunter and the sweep exist wherever `migrate` ran: never created by hand.
    from rendering.services.recovery import queue_schedules_ensure

    queue_schedules_ensure()


class RenderingConfig(AppConfig):
    name = "rendering"

    def ready(self) -> None:
        from hands.signals import premium_hand_recorded
        from rendering.services.premium import premium_hand_recorded_receiver

        post_migrate.connect(_ensure_queue_schedules, sender=self, dispatch_uid="queue_schedules")
        # A premium hand gets its instruction in the hand's own transaction.
        premium_hand_recorded.connect(
            premium_hand_recorded_receiver, dispatch_uid="premium_instruction"
        )
