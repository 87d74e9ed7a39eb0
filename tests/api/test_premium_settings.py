from __future__ import annotations

import pytest

from hands.checks import premium_settings_check


def test_it_accepts_the_default_premium_settings():
    assert premium_settings_check() == []


@pytest.mark.parametrize(
    ("rank", "rules", "error_id"),
    [
        ("five_aces", {"default": {"template": "x"}}, "hands.E001"),
        ("royal_flush", {"royal_flush": {"template": "x"}}, "hands.E002"),
        ("royal_flush", {"default": {"template": "x"}, "quads": {"template": "y"}}, "hands.E003"),
        ("royal_flush", {"default": {"priority": 1}}, "hands.E004"),
        ("royal_flush", {"default": {"template": "x", "priority": 11}}, "hands.E005"),
    ],
)
def test_it_stops_the_hub_on_a_misconfigured_premium_rule(settings, rank, rules, error_id):
    settings.PREMIUM_HAND_MIN_RANK = rank
    settings.PREMIUM_TEMPLATE_RULES = rules
    assert error_id in [message.id for message in premium_settings_check()]
