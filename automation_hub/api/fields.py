"""JSON bodies are taken with the types the OpenAPI schema gives them.

DRF's fields coerce: `"reason": 0` becomes "0", `"priority": "3"` becomes 3, `"dry_run": "yes"`
becomes true, `"lease_id": 0` a UUID. A caller's wrong type then passes silently (and the
published schema is not what the hub enforces). Installed once at start-up, these checks make
every serializer refuse a value of the wrong JSON type with a 400, wherever the input is a JSON
body. Input that is text by nature keeps DRF's conversions: query strings (a `QueryDict`) and
serializers given `context={"text_input": True}` (the CSV import's cells).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.http import QueryDict
from rest_framework import fields, relations

TYPE_MESSAGE = "Expected {expected}, got a {got}."


def _takes_text(field: fields.Field) -> bool:
    root = field.root
    data = getattr(root, "initial_data", None)
    return isinstance(data, QueryDict) or bool(root.context.get("text_input"))


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", type(None): "null"}
    return names.get(type(value), "list" if isinstance(value, list) else "object")


def _strict(
    cls: type[fields.Field], accepts: Callable[[Any], bool], expected: str
) -> Callable[..., Any]:
    original = cls.to_internal_value

    def to_internal_value(self: fields.Field, data: Any) -> Any:
        if not _takes_text(self) and not accepts(data):
            raise fields.ValidationError(
                TYPE_MESSAGE.format(expected=expected, got=_json_type(data)), code="invalid"
            )
        return original(self, data)

    to_internal_value.__wrapped__ = original  # type: ignore[attr-defined]
    return to_internal_value


def _is_whole(data: Any) -> bool:
    if isinstance(data, bool):
        return False
    return isinstance(data, int) or (isinstance(data, float) and data.is_integer())


def install() -> None:
    if getattr(fields, "_hub_strict_types", False):
        return
    rules: list[tuple[type[fields.Field], Callable[[Any], bool], str]] = [
        (fields.CharField, lambda d: isinstance(d, str), "a string"),
        (fields.IntegerField, _is_whole, "a whole number"),
        (fields.BooleanField, lambda d: isinstance(d, bool), "true or false"),
        (fields.UUIDField, lambda d: isinstance(d, str | uuid.UUID), "a UUID string"),
        (relations.PrimaryKeyRelatedField, _is_whole, "an id (a whole number)"),
    ]
    for cls, accepts, expected in rules:
        cls.to_internal_value = _strict(cls, accepts, expected)  # type: ignore[method-assign]
    fields._hub_strict_types = True  # type: ignore[attr-defined]
