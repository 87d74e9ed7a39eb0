"""The OpenAPI description of the hub: its authentication schemes, the one error body on every
operation that can answer with it, and each operation's own security (who may call it).

`HubAutoSchema` adds the error responses an operation can really give, from what the view is:
400 when it takes a body or query parameters, 401/403 unless it is public, 404 on a path with
an id or a paginated list, 415 on a body, 429 for authenticated callers (rate and sign-in
throttles). A view names its own refusals of writes (409, 413) in `error_responses`, of reads
in `read_error_responses`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from automation_hub.api.permissions import HubPermission

PERSON_SCHEMES = ("basicAuth", "cookieAuth")
KEY_SCHEME = "ApiKeyAuth"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "automation_hub.api.authentication.ApiKeyAuthentication"
    name = KEY_SCHEME

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Producer key, sent as `Authorization: Api-Key <key>`.",
        }


class ThrottledBasicScheme(OpenApiAuthenticationExtension):
    target_class = "automation_hub.api.authentication.ThrottledBasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "A person's user name and password. Failed passwords are throttled "
            "per address and user name (429 with Retry-After).",
        }


class ErrorOutput(serializers.Serializer):
    """The one error body (`automation_hub.api.errors`). Some errors add context keys (e.g.
    `existing_id` on an idempotency conflict)."""

    code = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Field (dotted for nested ones, `non_field_errors` otherwise) → messages.",
    )


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorOutput, description=description)


STANDARD_ERRORS = {
    "400": "Bad input: `errors` names each field and why.",
    "401": "No credentials, or wrong ones.",
    "403": "Authenticated, but this caller may not use this operation.",
    "404": "No such object (or page).",
    "415": "The body's Content-Type is not one this operation takes.",
    "429": "Too many requests (rate limit) or failed sign-ins; `Retry-After` says when to retry.",
}


class HubAutoSchema(AutoSchema):
    def _permissions(self) -> list[Any]:
        return list(self.view.get_permissions())

    def _is_public(self) -> bool:
        perms = self._permissions()
        return not perms or any(
            not isinstance(p, HubPermission) or p.has_permission_publicly() for p in perms
        )

    def _allowed_schemes(self) -> set[str]:
        allowed: set[str] = set()
        for perm in self._permissions():
            if isinstance(perm, HubPermission):
                if perm.admits_people:
                    allowed.update(PERSON_SCHEMES)
                if perm.roles:
                    allowed.add(KEY_SCHEME)
        return allowed

    def get_auth(self) -> list[dict[str, Any]]:
        """Only the schemes that can succeed here: a people-only operation does not offer the
        API key, the pull API offers nothing else; `{}` (none) only where anyone may call."""
        auths = super().get_auth()
        allowed = self._allowed_schemes()
        kept = [a for a in auths if a and set(a) <= allowed]
        if self._is_public():
            kept.append({})
        return kept

    def get_extensions(self) -> dict[str, Any]:
        """`x-hub-callers`: who may call the operation, machine-readable (the auth-matrix and
        fuzz tests read it): `people`, the producer `roles`, `public`."""
        extensions = dict(super().get_extensions() or {})
        perms = [p for p in self._permissions() if isinstance(p, HubPermission)]
        extensions["x-hub-callers"] = {
            "public": self._is_public(),
            "people": any(p.admits_people for p in perms) or self._is_public(),
            "roles": sorted({r for p in perms for r in p.roles}),
        }
        return extensions

    def get_description(self) -> str:
        text = super().get_description() or ""
        who = self._callers()
        return f"{text}\n\n{who}".strip() if who else text

    def _callers(self) -> str:
        if self._is_public():
            return ""
        people = any(getattr(p, "admits_people", False) for p in self._permissions())
        roles = sorted({r for p in self._permissions() for r in getattr(p, "roles", ())})
        parts = ["people"] if people else []
        if roles:
            parts.append(f"producer keys: {', '.join(roles)}")
        return f"Callers: {'; '.join(parts)}."

    def _error_codes(self) -> list[str]:
        codes = []
        has_body = self.method in ("POST", "PUT", "PATCH")
        has_query = bool(self.get_filter_backends()) or self._paginated()
        if has_body or has_query or self._view_query_params():
            codes.append("400")
        if not self._is_public():
            codes += ["401", "403", "429"]
        elif self.view.get_authenticators():
            codes += ["401", "429"]  # public, but wrong credentials are still refused
        if "{" in self.path or self._paginated():
            codes.append("404")
        if has_body:
            codes.append("415")
        return codes

    def _paginated(self) -> bool:
        return self.method == "GET" and self._is_list_view() and self._get_paginator() is not None

    def _view_query_params(self) -> bool:
        return any(
            getattr(p, "location", "query") == "query" for p in self.get_override_parameters()
        )

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)  # type: ignore[arg-type]
        errors = {code: STANDARD_ERRORS[code] for code in self._error_codes()}
        # A view's own refusals: `error_responses` of its writes (409, 413), and
        # `read_error_responses` of its reads.
        own = "read_error_responses" if self.method == "GET" else "error_responses"
        errors.update(getattr(self.view, own, {}))
        for code, description in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    error(description), code, direction=direction
                )
        return dict(sorted(responses.items()))
