from __future__ import annotations

import django_filters

from hands.models import Hand, HandRank


class HandFilter(django_filters.FilterSet):
    table_id = django_filters.CharFilter()
    tournament = django_filters.CharFilter(field_name="tournament__code")
    hand_rank = django_filters.ChoiceFilter(choices=HandRank.choices)
    is_premium = django_filters.BooleanFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Hand
        fields: list[str] = []
