"""Query filters that refuse what their OpenAPI type refuses (400), instead of ignoring it.

django-filter's defaults are lenient: `?is_premium=0.5` or `?priority=1.0` or `?since=` are
silently dropped or rounded, so a caller's typo returns everything. Here a value must be what
the schema says: `true`/`false`, a whole number in range, a valid choice; an empty value for a
typed filter is an error too (leave the parameter out instead).
"""

from __future__ import annotations

import re
from typing import Any

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

MAX_ID = 2**63 - 1
_WHOLE = re.compile(r"-?[0-9]+")


class StrictIntegerField(forms.IntegerField):
    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        if not _WHOLE.fullmatch(str(value)):
            raise forms.ValidationError("Enter a whole number.", code="invalid")
        return int(value)


class StrictBooleanField(forms.Field):
    def to_python(self, value: Any) -> bool | None:
        if value in self.empty_values:
            return None
        if value in ("true", "false"):
            return value == "true"
        raise forms.ValidationError("Use true or false.", code="invalid")

    def validate(self, value: Any) -> None:  # None (not given) is allowed
        pass


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.Filter):
    """A row id: a whole number ≥ 1 (an id out of range is refused, not sent to the database)."""

    field_class = StrictIntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 10})
class PriorityFilter(django_filters.Filter):
    field_class = StrictIntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, min_value=1, max_value=10, **kwargs)


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class ChoiceInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    """`?status=failed,pending`: a comma list of valid choices."""


class HubFilterSet(django_filters.FilterSet):
    """A typed filter given an empty value is an error (only free-text filters may be empty)."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, query_filter in self.filters.items():
            if type(query_filter) is django_filters.CharFilter:
                continue
            if name in self.data and self.data.get(name) == "":
                self.form.add_error(name, "Give a value, or leave the parameter out.")
                valid = False
        return valid
