"""Request rates per caller (DRF throttling): each producer key, and each person, has its own
budget sized for a broadcast day (API_THROTTLE_RATES, README "Authentication"). Over it → 429
with `Retry-After`. Anonymous calls are not counted: the only views they reach are the health
probes, and a probe must never be refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from automation_hub.api.authentication import ProducerPrincipal

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

PERSON = "person"


def caller_rate_class(request: Request) -> tuple[str, str] | None:
    """(rate class, cache identity) of the caller, or None when it is not counted."""
    user = request.user
    if isinstance(user, ProducerPrincipal):
        # The key's prefix, not its row id: unique and never reused.
        return user.role, f"key:{user.key.prefix}"
    if user is not None and user.is_authenticated:
        return PERSON, f"user:{user.pk}"
    return None


class CallerRateThrottle(SimpleRateThrottle):
    scope = "caller"

    def __init__(self) -> None:  # the rate depends on the caller: read in allow_request
        pass

    def allow_request(self, request: Request, view: APIView) -> bool:
        found = caller_rate_class(request)
        rate = settings.API_THROTTLE_RATES.get(found[0]) if found else None
        if found is None or not rate:
            return True
        self.rate = rate
        self.num_requests, self.duration = self.parse_rate(rate)
        self._ident = f"{found[0]}:{found[1]}"
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self._ident}
