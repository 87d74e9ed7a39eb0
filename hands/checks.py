"""System checks: a misconfigured premium rule must stop the hub at start, not on air."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from hands.models import HandRank


@checks.register(checks.Tags.compatibility)
def premium_settings_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    if settings.PREMIUM_HAND_MIN_RANK not in HandRank.values:
        errors.append(
            checks.Error(
                f"PREMIUM_HAND_MIN_RANK={settings.PREMIUM_HAND_MIN_RANK!r} is not a hand rank.",
                hint=f"Use one of: {', '.join(HandRank.values)}.",
                id="hands.E001",
            )
        )
    rules = settings.PREMIUM_TEMPLATE_RULES
    if not isinstance(rules, dict) or "default" not in rules:
        return [
            *errors,
            checks.Error(
                "PREMIUM_TEMPLATE_RULES must be a JSON object with a 'default' rule.",
                id="hands.E002",
            ),
        ]
    for rank, rule in rules.items():
        where = f"PREMIUM_TEMPLATE_RULES[{rank!r}]"
        if rank != "default" and rank not in HandRank.values:
            errors.append(checks.Error(f"{where}: {rank!r} is not a hand rank.", id="hands.E003"))
        if not isinstance(rule, dict) or not str(rule.get("template", "")).strip():
            errors.append(checks.Error(f"{where} needs a 'template' name.", id="hands.E004"))
            continue
        priority = rule.get("priority", 5)
        if not isinstance(priority, int) or not 1 <= priority <= 10:
            errors.append(
                checks.Error(
                    f"{where}: priority must be 1 … 10, not {priority!r}.", id="hands.E005"
                )
            )
    return errors
