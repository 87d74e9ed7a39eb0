from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_migrate
from django.urls import register_converter


def _ensure_hub_schedules(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    # The live-event pruning exists wherever `migrate` ran: never created by hand.
    from automation_hub.schedules import hub_schedules_ensure

    hub_schedules_ensure()


class AutomationHubConfig(AppConfig):
    name = "automation_hub"
    verbose_name = "Automation hub"

    def ready(self) -> None:
        from automation_hub.api import fields, schema  # noqa: F401  (OpenAPI extensions)
        from automation_hub.consumers import session_ended
        from automation_hub.converters import IdConverter
        from automation_hub.login_throttle import on_logged_in, on_login_failed

        register_converter(IdConverter, "id")  # before any URL conf is read
        fields.install()  # JSON bodies are taken with their schema's types

        post_migrate.connect(_ensure_hub_schedules, sender=self, dispatch_uid="hub_schedules")
        # Every entry's failed passwords count under one rule (automation_hub.login_throttle).
        user_login_failed.connect(on_login_failed, dispatch_uid="hub_login_failed")
        user_logged_in.connect(on_logged_in, dispatch_uid="hub_logged_in")
        # A signed-out session's dashboard sockets close at once, not at their next check.
        user_logged_out.connect(session_ended, dispatch_uid="hub_session_ended")
