from __future__ import annotations

from django.apps import AppConfig


class RenderingConfig(AppConfig):
    name = "rendering"
