from __future__ import annotations

import django_filters

from automation_hub.api.filters import ChoiceInFilter, HubFilterSet, IdFilter, StrictBooleanFilter
from automation_hub.models import EventType, MonitoringEvent, Severity


class EventFilter(HubFilterSet):
    # `?severity=error,critical`: a comma list of levels.
    severity = ChoiceInFilter(field_name="severity", choices=Severity.choices)
    min_severity = django_filters.ChoiceFilter(
        choices=Severity.choices, method="filter_min_severity", label="This severity or worse"
    )
    resolved = StrictBooleanFilter()
    # Events recorded while `manage.py simulate` played fabricated traffic.
    simulated = StrictBooleanFilter()
    code = django_filters.CharFilter()
    type = django_filters.ChoiceFilter(choices=EventType.choices)
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    instruction = IdFilter(field_name="instruction_id")
    hand = IdFilter(field_name="hand_id")

    class Meta:
        model = MonitoringEvent
        fields: list[str] = []

    def filter_min_severity(self, queryset, name, value):
        return queryset.filter(severity__in=Severity.at_least(value))
