"""Template filters for figures that arrive as the JSON API shapes them (ISO strings)."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime

register = template.Library()


@register.filter
def isodatetime(value: str | datetime | None) -> datetime | None:
    """An ISO 8601 string (or a datetime) as a datetime in the current time zone; None stays None
    so `|default:"never"` still applies."""
    if not value:
        return None
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment is None:
        return None
    return timezone.localtime(moment) if timezone.is_aware(moment) else moment
