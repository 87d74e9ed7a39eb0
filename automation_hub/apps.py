from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_hub_schedules(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    # The live-event pruning exists wherever `migrate` ran: never created by hand.
    from automation_hub.schedules import hub_schedules_ensure

    hub_schedules_ensure()


class AutomationHubConfig(AppConfig):
    name = "automation_hub"
    verbose_name = "Automation hub"

    def ready(self) -> None:
        from automation_hub.api import schema  # noqa: F401  (registers the OpenAPI extension)

        post_migrate.connect(_ensure_hub_schedules, sender=self, dispatch_uid="hub_schedules")
