from __future__ import annotations

import django_filters

from automation_hub.api.filters import HubFilterSet, StrictBooleanFilter
from hands.models import Hand, HandRank


class HandFilter(HubFilterSet):
    table_id = django_filters.CharFilter()
    tournament = django_filters.CharFilter(field_name="tournament__code")
    hand_rank = django_filters.ChoiceFilter(choices=HandRank.choices)
    is_premium = StrictBooleanFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Hand
        fields: list[str] = []
