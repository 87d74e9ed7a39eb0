from __future__ import annotations

from django.apps import AppConfig


class HandsConfig(AppConfig):
    name = "hands"

    def ready(self) -> None:
        from hands import checks  # noqa: F401  (registers the settings checks)
