"""Who may call what: people (Django users) and producer keys, each key only its own work."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from automation_hub.api.authentication import ProducerPrincipal


def is_person(request: Request) -> bool:
    user = request.user
    return bool(user and user.is_authenticated and not isinstance(user, ProducerPrincipal))


def producer_role(request: Request) -> str | None:
    user = request.user
    return user.role if isinstance(user, ProducerPrincipal) else None


def actor_name(request: Request) -> str:
    """What the audit trail and `created_by` record for the caller."""
    return request.user.username if request.user else "anonymous"


class IsPerson(BasePermission):
    """Logged-in people only: manual override is never a producer's business."""

    message = "This action is for people (session or HTTP Basic), not producer API keys."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_person(request)


def person_or_producer(*roles: str) -> type[BasePermission]:
    """A permission class that admits people and the keys of the given producer roles."""

    class PersonOrProducer(BasePermission):
        message = f"This endpoint takes people or these producer keys: {', '.join(roles)}."

        def has_permission(self, request: Request, view: APIView) -> bool:
            return is_person(request) or producer_role(request) in roles

    PersonOrProducer.__name__ = f"PersonOr{'_'.join(roles) or 'Nobody'}"
    return PersonOrProducer


def producer_only(*roles: str) -> type[BasePermission]:
    """Admits only keys of the given roles (worker pull API)."""

    class ProducerOnly(BasePermission):
        message = f"This endpoint takes only these producer keys: {', '.join(roles)}."

        def has_permission(self, request: Request, view: APIView) -> bool:
            return producer_role(request) in roles

    ProducerOnly.__name__ = f"ProducerOnly{'_'.join(roles)}"
    return ProducerOnly
