from __future__ import annotations

from django.apps import AppConfig


class AutomationHubConfig(AppConfig):
    name = "automation_hub"
    verbose_name = "Automation hub"

    def ready(self) -> None:
        from automation_hub.api import schema  # noqa: F401  (registers the OpenAPI extension)
