from __future__ import annotations

import re
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

_WHOLE = re.compile(r"[0-9]+")


class HubPagination(PageNumberPagination):
    """`?page=` (from 1; past the last page → 404) and `?page_size=` (1 … 500): a value that is
    not a whole number in range is a 400, never quietly replaced by the default."""

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not _WHOLE.fullmatch(raw) or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {"page_size": [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_page_number(self, request: Request, paginator: Any) -> str:
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and (not _WHOLE.fullmatch(raw) or int(raw) < 1):
            raise ValidationError({"page": ["A whole number from 1."]})
        return raw or "1"

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = super().get_schema_operation_parameters(view)
        bounds = {
            self.page_query_param: {"minimum": 1},
            self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size},
        }
        for param in params:
            param["schema"].update(bounds.get(param["name"], {}))
        return params
