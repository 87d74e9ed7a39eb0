"""Card notation: rank `23456789TJQKA` + suit `shdc`, e.g. "As", "Td"."""

from __future__ import annotations

import re

CARD_RE = re.compile(r"^[2-9TJQKA][shdc]$")
MAX_COMMUNITY_CARDS = 5


def is_card(value: object) -> bool:
    return isinstance(value, str) and bool(CARD_RE.match(value))
