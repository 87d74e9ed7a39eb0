"""`<id:pk>` in URLs: a row id of at most 18 digits, so it always fits a 64-bit column (a longer
number is no route at all, 404, instead of an overflow in the database driver)."""

from __future__ import annotations

MAX_ID_DIGITS = 18


class IdConverter:
    regex = f"[0-9]{{1,{MAX_ID_DIGITS}}}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
