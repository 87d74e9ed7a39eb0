from __future__ import annotations

import django_filters

from automation_hub.models import MonitoringEvent, Severity
from rendering.api.filters import ChoiceInFilter


class EventFilter(django_filters.FilterSet):
    # `?severity=error,critical`: a comma list of levels.
    severity = ChoiceInFilter(field_name="severity", choices=Severity.choices)
    min_severity = django_filters.ChoiceFilter(
        choices=Severity.choices, method="filter_min_severity", label="This severity or worse"
    )
    resolved = django_filters.BooleanFilter()
    code = django_filters.CharFilter()
    type = django_filters.CharFilter()
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    instruction = django_filters.NumberFilter(field_name="instruction_id")
    hand = django_filters.NumberFilter(field_name="hand_id")

    class Meta:
        model = MonitoringEvent
        fields: list[str] = []

    def filter_min_severity(self, queryset, name, value):
        return queryset.filter(severity__in=Severity.at_least(value))
