"""Read queries of the hands app."""

from __future__ import annotations

from django.db.models import QuerySet

from hands.models import Hand, Tournament


def hand_list() -> QuerySet[Hand]:
    return (
        Hand.objects.select_related("tournament")
        .prefetch_related("instructions")
        .order_by("-created_at", "-id")
    )


def tournament_list() -> QuerySet[Tournament]:
    return Tournament.objects.order_by("-starts_at", "code")
