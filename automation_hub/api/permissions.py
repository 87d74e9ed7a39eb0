"""Who may call what. Least privilege: an API view is for people (Django users, by session or
HTTP Basic) unless it names the producer roles it also admits, and each producer key reads only
what its own work needs (README: "Authentication").

Every permission class here says whom it admits (`admits_people`, `roles`), so the OpenAPI
schema lists the right security schemes per operation and the auth-matrix test can read it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.permissions import BasePermission

from automation_hub.api.authentication import ProducerPrincipal

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


def is_person(request: Request) -> bool:
    user = request.user
    return bool(
        user
        and user.is_authenticated
        and user.is_active
        and not isinstance(user, ProducerPrincipal)
    )


def producer_role(request: Request) -> str | None:
    user = request.user
    return user.role if isinstance(user, ProducerPrincipal) else None


def actor_name(request: Request) -> str:
    """What the audit trail and `created_by` record for the caller: always the authenticated
    identity, never a value from the request body."""
    return request.user.username if request.user else "anonymous"


def idempotency_scope(request: Request) -> str:
    """The namespace of the caller's idempotency keys: one per producer key (role and name),
    one per person, so nobody can take a key another caller will use."""
    user = request.user
    if isinstance(user, ProducerPrincipal):
        return f"key:{user.role}:{user.key.name}"
    return f"user:{user.username}"


class HubPermission(BasePermission):
    admits_people = True
    roles: tuple[str, ...] = ()
    def has_permission(self, request: Request, view: APIView) -> bool:
        return (
            self.has_permission_publicly()
            or (self.admits_people and is_person(request))
            or producer_role(request) in self.roles
        )

    def has_permission_publicly(self) -> bool:
        """True when anyone, even without credentials, may call (a `*_PUBLIC` switch)."""
        return False


class IsPerson(HubPermission):
    """People only: the default for every API view (settings.REST_FRAMEWORK)."""

    message = "This endpoint is for people (session or HTTP Basic), not producer API keys."


def person_or_producer(*roles: str) -> type[HubPermission]:
    """A permission class that admits people and the keys of the given producer roles."""

    class PersonOrProducer(HubPermission):
        message = f"This endpoint takes people or these producer keys: {', '.join(roles)}."

    PersonOrProducer.roles = roles
    PersonOrProducer.__name__ = f"PersonOr{'_'.join(roles) or 'Nobody'}"
    return PersonOrProducer


def producer_only(*roles: str) -> type[HubPermission]:
    """Admits only keys of the given roles (the worker pull API)."""

    class ProducerOnly(HubPermission):
        admits_people = False
        message = f"This endpoint takes only these producer keys: {', '.join(roles)}."

    ProducerOnly.roles = roles
    ProducerOnly.__name__ = f"ProducerOnly{'_'.join(roles)}"
    return ProducerOnly


class MetricsScrape(HubPermission):
    """`/metrics`: a `metrics` key or a person, or anyone when METRICS_PUBLIC is on."""

    roles = ("metrics",)
    message = "Scrape /metrics with a metrics API key or HTTP Basic."

    def has_permission_publicly(self) -> bool:
        return settings.METRICS_PUBLIC


class ApiDocsReader(HubPermission):
    """The OpenAPI schema and Swagger UI: people, or anyone when API_DOCS_PUBLIC is on."""

    message = "Sign in to read the API documentation."

    def has_permission_publicly(self) -> bool:
        return settings.API_DOCS_PUBLIC
