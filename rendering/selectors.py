"""Read queries of the rendering app."""

from __future__ import annotations

from django.db.models import QuerySet

from rendering.models import RenderInstruction


def instruction_list() -> QuerySet[RenderInstruction]:
    return RenderInstruction.objects.prefetch_related("outputs").order_by("-created_at", "-id")
