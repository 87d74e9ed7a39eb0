from __future__ import annotations

import django_filters

from automation_hub.api.filters import ChoiceInFilter, HubFilterSet, IdFilter, PriorityFilter
from rendering.models import InstructionStatus, RenderInstruction


class InstructionFilter(HubFilterSet):
    status = ChoiceInFilter(field_name="status", choices=InstructionStatus.choices)
    template = django_filters.CharFilter(field_name="template_name")
    trigger_type = django_filters.CharFilter()
    hand = IdFilter(field_name="hand_id")
    priority = PriorityFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = RenderInstruction
        fields: list[str] = []
