"""Sign-in forms of the pages and the admin, both refusing a throttled address / user name
before the password is checked (`automation_hub.login_throttle`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from automation_hub.login_throttle import client_address, login_throttle_wait, throttled_message


class ThrottledLoginMixin:
    """Refuses before `authenticate()`: a throttled guess learns nothing, not even if it was
    right. `throttle_wait` tells the view to answer 429 with `Retry-After`."""

    throttle_wait: int | None = None

    def clean(self) -> dict[str, Any]:
        username = str(self.data.get("username") or "")  # type: ignore[attr-defined]
        wait = login_throttle_wait(
            address=client_address(self.request),  # type: ignore[attr-defined]
            username=username,
        )
        if wait is not None:
            self.throttle_wait = wait
            raise forms.ValidationError(throttled_message(), code="throttled")
        return super().clean()  # type: ignore[misc]


class HubAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class HubAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
