"""Thin clients of the outside systems alerts go to: a Slack incoming webhook, and e-mail."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from django.core.mail import send_mail


class NotifyError(Exception):
    pass


def slack_post(*, url: str, text: str, timeout: float) -> None:
    """POST `{"text": ...}` to an incoming webhook; anything but 2xx is a NotifyError."""
    if not url.startswith(("https://", "http://")):
        raise NotifyError("SLACK_WEBHOOK_URL must be an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            if not 200 <= response.status < 300:
                raise NotifyError(f"Slack answered {response.status}")
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise NotifyError(f"Slack webhook unreachable: {exc}") from exc


def email_send(*, recipients: list[str], subject: str, body: str) -> None:
    try:
        send_mail(subject, body, None, recipients, fail_silently=False)
    except Exception as exc:  # SMTP errors come in many types
        raise NotifyError(f"e-mail not sent: {exc}") from exc
