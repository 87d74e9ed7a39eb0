"""How the dashboard writes times, durations and counts (pages.js writes live rows the same way).

`when`: the time of day, with the date in front when it is not today (a show crosses midnight);
`duration`: seconds as "1 m 12 s"; `thousands`: 2590000 as "2,590,000".
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def when(value: datetime | None) -> str:
    if not value:
        return ""
    local = timezone.localtime(value)
    if local.date() == timezone.localdate():
        return local.strftime("%H:%M:%S")
    return local.strftime("%b %d %H:%M:%S").replace(" 0", " ", 1)


@register.filter
def duration(seconds: float | int | None) -> str:
    if seconds is None:
        return "\u2013"
    total = round(float(seconds))
    if total < 60:
        return f"{float(seconds):.1f} s" if float(seconds) < 10 else f"{total} s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} m"
    return f"{minutes} m {secs} s"


@register.filter
def thousands(value: int | float | None) -> str:
    if value is None or value == "":
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:,.0f}" if number == int(number) else f"{number:,.1f}"


@register.filter
def age(value: datetime | None) -> str:
    """How long ago, shortly: "45 s", "12 m", "3 h 05 m", "2 d 4 h"."""
    if not value:
        return ""
    seconds = max(0, int((timezone.now() - value).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} m"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
