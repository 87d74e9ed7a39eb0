from __future__ import annotations

import django_filters

from rendering.models import InstructionStatus, RenderInstruction


class ChoiceInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    """`?status=failed,pending`: a comma list of valid choices."""


class InstructionFilter(django_filters.FilterSet):
    status = ChoiceInFilter(field_name="status", choices=InstructionStatus.choices)
    template = django_filters.CharFilter(field_name="template_name")
    trigger_type = django_filters.CharFilter()
    hand = django_filters.NumberFilter(field_name="hand_id")
    priority = django_filters.NumberFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = RenderInstruction
        fields: list[str] = []
