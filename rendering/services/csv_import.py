"""CSV import of render instructions for the data desk: every row is created, or none.

Columns (header row required, comma-separated, UTF-8 with or without BOM):

| column | required | meaning |
| --- | --- | --- |
| template_name | yes | After Effects template / preview layout |
| priority | no | 1 (highest) … 10, default 5 |
| trigger_type | no | default `csv` |
| trigger_id | no | the sheet's own reference |
| hand_id, or table_id + hand_number | no | the hand the graphic belongs to (must exist) |
| idempotency_key | no | a row re-sent with the same key is not duplicated (default: hash+line) |
| format, resolution, fps, frame_count | no | output settings (PNG / MOV / MP4, 1920x1080, …) |
| max_retries | no | 0 … 10 |
| layer_data | no | a JSON object of layer values |
| layer.<name> | no | one layer value each (text), merged over `layer_data` |

Any other column is refused (a typo would otherwise drop data silently).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from automation_hub.api.parsers import MAX_JSON_DEPTH
from automation_hub.errors import Conflict, InvalidInput
from hands.models import Hand
from rendering.api.serializers import InstructionInput
from rendering.services.instructions import instruction_create

MAX_CSV_BYTES: int = settings.UPLOAD_MAX_BYTES
# Python's csv module refuses a cell longer than this; such a cell is a bad row (400).
MAX_CELL_CHARS = csv.field_size_limit()
MAX_CSV_ROWS = 10_000
OUTPUT_COLUMNS = ("format", "resolution", "fps", "frame_count")
PLAIN_COLUMNS = (
    "template_name",
    "priority",
    "trigger_type",
    "trigger_id",
    "hand_id",
    "table_id",
    "hand_number",
    "idempotency_key",
    "max_retries",
    "layer_data",
    *OUTPUT_COLUMNS,
)
LAYER_PREFIX = "layer."


@dataclass
class CsvImportResult:
    created: int = 0
    existing: int = 0
    instruction_ids: list[int] = field(default_factory=list)


def _messages(detail: Any, prefix: str = "") -> list[str]:
    """Flatten DRF error details into 'field: message' lines."""
    if isinstance(detail, dict):
        return [m for k, v in detail.items() for m in _messages(v, f"{prefix}{k}.")]
    if isinstance(detail, list):
        return [m for v in detail for m in _messages(v, prefix)]
    label = prefix.rstrip(".").replace("non_field_errors", "row")
    return [f"{label}: {detail}" if label else str(detail)]


def _hand_for(row: dict[str, str]) -> tuple[int | None, list[str]]:
    hand_id, table_id, number = row.get("hand_id"), row.get("table_id"), row.get("hand_number")
    if hand_id:
        return (int(hand_id), []) if hand_id.isdigit() else (None, ["hand_id: not a number."])
    if not table_id and not number:
        return None, []
    if not (table_id and number and number.isdigit()):
        return None, ["table_id/hand_number: give both, hand_number a whole number."]
    pk = (
        Hand.objects.filter(table_id=table_id, hand_number=int(number))
        .values_list("pk", flat=True)
        .first()
    )
    if pk is None:
        return None, [f"table_id/hand_number: no hand {table_id} #{number} has been recorded."]
    return pk, []


def _row_payload(row: dict[str, str], default_key: str) -> tuple[dict[str, Any], list[str]]:
    errors: list[str] = []
    layer: dict[str, Any] = {}
    if row.get("layer_data"):
        try:
            layer = json.loads(row["layer_data"])
        except json.JSONDecodeError as exc:
            errors.append(f"layer_data: not valid JSON ({exc.msg}).")
        except RecursionError:
            errors.append(f"layer_data: nested deeper than {MAX_JSON_DEPTH} levels.")
    if isinstance(layer, dict):
        layer.update(
            {k[len(LAYER_PREFIX) :]: v for k, v in row.items() if k.startswith(LAYER_PREFIX)}
        )
    hand_pk, hand_errors = _hand_for(row)
    errors += hand_errors
    payload: dict[str, Any] = {
        "template_name": row.get("template_name", ""),
        "trigger_type": row.get("trigger_type") or "csv",
        "trigger_id": row.get("trigger_id", ""),
        "layer_data": layer,
        "output_settings": {c: row[c] for c in OUTPUT_COLUMNS if row.get(c)},
        "hand": hand_pk,
        "idempotency_key": row.get("idempotency_key") or default_key,
    }
    for name in ("priority", "max_retries"):
        if row.get(name):
            payload[name] = row[name]
    return payload, errors


def _csv_problem(exc: csv.Error, line: int) -> InvalidInput:
    reason = str(exc)
    if "field larger than field limit" in reason:
        reason = f"a cell is longer than {MAX_CELL_CHARS} characters"
    return InvalidInput(
        f"Line {line} cannot be read as CSV: {reason}; nothing was imported.",
        fields={f"line {line}": [f"row: {reason}."]},
    )


def _read_rows(content: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("The file is not UTF-8 text.", fields={"file": [str(exc)]}) from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _checked_rows(reader)
    except csv.Error as exc:  # an over-long cell, a NUL byte, a stray quote
        # line_num counts the lines already read: the bad one is the next.
        raise _csv_problem(exc, reader.line_num + 1) from exc


def _checked_rows(reader: csv.DictReader) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    header = [h.strip() for h in (reader.fieldnames or [])]
    unknown = [h for h in header if h not in PLAIN_COLUMNS and not h.startswith(LAYER_PREFIX)]
    problems = []
    if "template_name" not in header:
        problems.append("The header has no template_name column.")
    if unknown:
        problems.append(f"Unknown column(s): {', '.join(unknown)}.")
    if problems:
        raise InvalidInput(" ".join(problems), fields={"header": problems})
    reader.fieldnames = header
    rows = []
    for row in reader:
        if len(rows) >= MAX_CSV_ROWS:
            raise InvalidInput(f"More than {MAX_CSV_ROWS} rows; split the file.")
        if None in row:
            rows.append((reader.line_num, {"__extra__": "x"}))
            continue
        cleaned = {k: (v or "").strip() for k, v in row.items()}
        if any(cleaned.values()):
            rows.append((reader.line_num, cleaned))
    if not rows:
        raise InvalidInput("The file has no data rows.", fields={"file": ["No data rows."]})
    return header, rows


def instructions_import_csv(
    *, content: bytes, created_by: str = "", idempotency_scope: str = ""
) -> CsvImportResult:
    """Validate every row, then create them all in one transaction. Any bad row → InvalidInput
    naming each bad line; nothing is written. Re-importing the same file creates nothing new."""
    _, rows = _read_rows(content)
    file_hash = hashlib.sha256(content).hexdigest()[:16]
    errors: dict[str, list[str]] = {}
    validated: list[tuple[int, dict[str, Any]]] = []
    seen_keys: dict[str, int] = {}
    for line, row in rows:
        if "__extra__" in row:
            errors[f"line {line}"] = ["row: more values than header columns."]
            continue
        payload, row_errors = _row_payload(row, default_key=f"csv:{file_hash}:{line}")
        serializer = InstructionInput(data=payload, context={"text_input": True})
        if not serializer.is_valid():
            row_errors += _messages(serializer.errors)
        key = payload["idempotency_key"]
        if key in seen_keys:
            row_errors.append(f"idempotency_key: repeats line {seen_keys[key]}.")
        seen_keys.setdefault(key, line)
        if row_errors:
            errors[f"line {line}"] = row_errors
        else:
            validated.append((line, serializer.validated_data))
    if errors:
        raise _bad_rows(errors)
    result = CsvImportResult()
    with transaction.atomic():
        for line, data in validated:
            try:
                instruction, created = instruction_create(
                    **data, created_by=created_by, idempotency_scope=idempotency_scope
                )
            except Conflict as exc:
                errors[f"line {line}"] = [f"idempotency_key: {exc.message}"]
                continue
            result.instruction_ids.append(instruction.pk)
            result.created += int(created)
            result.existing += int(not created)
        if errors:
            raise _bad_rows(errors)  # rolls the whole import back
    return result


def _bad_rows(errors: dict[str, list[str]]) -> InvalidInput:
    return InvalidInput(
        f"{len(errors)} bad row(s); nothing was imported. Fix them and send the whole file again.",
        fields=errors,
    )
