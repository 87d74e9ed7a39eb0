from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_rollup_schedule(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    # The metrics rollup exists wherever `migrate` ran: never created by hand.
    from monitoring.services.retention import retention_schedules_ensure
    from monitoring.services.rollup import rollup_schedule_ensure

    rollup_schedule_ensure()
    retention_schedules_ensure()


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self) -> None:
        post_migrate.connect(_ensure_rollup_schedule, sender=self, dispatch_uid="rollup_schedule")
