from __future__ import annotations

from django.apps import AppConfig


class AutomationHubConfig(AppConfig):
    name = "automation_hub"
    verbose_name = "Automation hub"
