"""How API callers prove who they are: `Authorization: Api-Key <key>` for producer systems,
HTTP Basic (under the failed-password throttle) or the session for people."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from automation_hub.login_throttle import (
    client_address,
    login_success_record,
    login_throttle_wait,
    throttled_message,
)
from automation_hub.models import ApiKey

KEYWORD = "Api-Key"


class ProducerPrincipal:
    """`request.user` of a call made with an API key: authenticated, but not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, key: ApiKey):
        self.key = key
        self.role = key.role
        self.username = f"api-key:{key.name}"

    def __str__(self) -> str:
        return self.username


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ProducerPrincipal, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != KEYWORD.lower():
            return None
        raw_key = raw_key.strip()
        key = self._lookup(raw_key)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        self._touch(key)
        return ProducerPrincipal(key), key

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="api"'

    @staticmethod
    def _lookup(raw_key: str) -> ApiKey | None:
        if not raw_key.startswith("wsop_") or "." not in raw_key:
            return None
        prefix = raw_key[len("wsop_") :].split(".", 1)[0]
        key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
        if key is None or not hmac.compare_digest(key.key_hash, ApiKey.hash_key(raw_key)):
            return None
        return key

    @staticmethod
    def _touch(key: ApiKey) -> None:
        # At most one write a minute per key, so a busy producer does not write on every call.
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)


class SignInThrottled(exceptions.Throttled):
    """429 for a throttled address / user name: the same words as the sign-in pages."""

    default_code = "login_throttled"

    def __init__(self, wait: int):
        super().__init__(wait=wait)
        # Exactly the pages' words (DRF would append its own "Expected available in …").
        self.detail = exceptions.ErrorDetail(throttled_message(), code=self.default_code)


class ThrottledBasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic under the one failed-password rule (`automation_hub.login_throttle`).

    A throttled caller is refused before the password is checked; a wrong password is counted
    by the `user_login_failed` signal that `authenticate()` sends."""

    def authenticate_credentials(
        self, userid: str, password: str, request: Any = None
    ) -> tuple[Any, None]:
        address = client_address(request)
        wait = login_throttle_wait(address=address, username=userid)
        if wait is not None:
            raise SignInThrottled(wait)
        user, auth = super().authenticate_credentials(userid, password, request)
        login_success_record(address=address, username=userid)
        return user, auth
