"""Creating render instructions (producer API, CSV import, premium hands)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import IntegrityError, transaction

from automation_hub.errors import Conflict
from rendering.models import RenderInstruction
from rendering.services.transitions.create import instruction_insert

DEFAULT_OUTPUT_SETTINGS: dict[str, Any] = {
    "format": "PNG",
    "resolution": "1920x1080",
    "fps": 30,
    "frame_count": 1,
}

# The idempotency namespace of the instructions the hub creates itself (premium hands).
HUB_SCOPE = "hub"

# What must match for a resend with the same idempotency key to be "the same instruction".
_IDEMPOTENT_FIELDS = (
    "template_name",
    "layer_data",
    "output_settings",
    "priority",
    "trigger_type",
    "trigger_id",
    "hand_id",
)


def output_settings_with_defaults(output_settings: dict[str, Any] | None) -> dict[str, Any]:
    return {**DEFAULT_OUTPUT_SETTINGS, **(output_settings or {})}


def _same_request(existing: RenderInstruction, values: dict[str, Any]) -> list[str]:
    """Names of the fields where a resend differs from the stored instruction."""
    return [
        name
        for name in _IDEMPOTENT_FIELDS
        if json.dumps(getattr(existing, name), sort_keys=True, default=str)
        != json.dumps(values[name], sort_keys=True, default=str)
    ]


def _resend(
    scope: str, idempotency_key: str, values: dict[str, Any]
) -> tuple[RenderInstruction, bool]:
    existing = RenderInstruction.objects.get(
        idempotency_scope=scope, idempotency_key=idempotency_key
    )
    differing = _same_request(existing, values)
    if differing:
        raise Conflict(
            f"Idempotency key {idempotency_key!r} was used for a different instruction.",
            fields={name: ["Differs from the first request with this key."] for name in differing},
            extra={"existing_id": existing.pk},
        )
    return existing, False


def instruction_create(
    *,
    template_name: str,
    layer_data: dict[str, Any] | None = None,
    output_settings: dict[str, Any] | None = None,
    priority: int = 5,
    trigger_type: str = "manual",
    trigger_id: str = "",
    hand: Any = None,
    idempotency_key: str | None = None,
    idempotency_scope: str = "",
    max_retries: int | None = None,
    created_by: str = "",
) -> tuple[RenderInstruction, bool]:
    """Create a PENDING instruction; returns (instruction, created).

    With an idempotency key, a resend returns the first instruction (created=False) and a
    different request under the same key raises Conflict. Keys are looked up only within
    `idempotency_scope`, the caller's own namespace (`automation_hub.api.permissions.
    idempotency_scope`; `hub` for the hub's own), so callers never collide. After commit, the
    workers are woken and the dashboard told (`instruction_updated`): see `transitions.create`.
    """
    values = {
        "template_name": template_name,
        "layer_data": layer_data or {},
        "output_settings": output_settings_with_defaults(output_settings),
        "priority": priority,
        "trigger_type": trigger_type,
        "trigger_id": trigger_id,
        "hand_id": hand.pk if hand is not None else None,
    }
    mine = RenderInstruction.objects.filter(
        idempotency_scope=idempotency_scope, idempotency_key=idempotency_key
    )
    if idempotency_key and mine.exists():
        return _resend(idempotency_scope, idempotency_key, values)
    extra: dict[str, Any] = {}
    if max_retries is not None:
        extra["max_retries"] = max_retries
    values.update(
        correlation_id=hand.correlation_id if hand is not None else uuid.uuid4(),
        idempotency_key=idempotency_key or None,
        idempotency_scope=idempotency_scope,
        created_by=created_by,
        **extra,
    )
    try:
        with transaction.atomic():
            instruction = instruction_insert(values=values)
    except IntegrityError:
        # A concurrent resend with the same key won the insert.
        if not idempotency_key or not mine.exists():
            raise
        return _resend(idempotency_scope, idempotency_key, values)
    return instruction, True
