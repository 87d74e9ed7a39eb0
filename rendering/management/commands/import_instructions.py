from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from automation_hub.errors import HubError
from rendering.services.csv_import import MAX_CSV_BYTES, instructions_import_csv


class Command(BaseCommand):
    help = (
        "Import render instructions from a CSV file (see docs/csv-import.md). All rows are "
        "created or none; every bad line is listed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--created-by", default="csv-import")

    def handle(self, *args: Any, file: Path, created_by: str, **options: Any) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        if file.stat().st_size > MAX_CSV_BYTES:
            raise CommandError(f"{file}: larger than {MAX_CSV_BYTES} bytes")
        try:
            result = instructions_import_csv(
                content=file.read_bytes(),
                created_by=created_by,
                idempotency_scope=f"user:{created_by}",
            )
        except HubError as exc:
            for where, messages in exc.fields.items():
                for message in messages:
                    self.stderr.write(f"{file}: {where}: {message}")
            raise CommandError(f"{file}: {exc.message}") from exc
        self.stdout.write(
            f"Imported {file}: {result.created} created, {result.existing} already present "
            f"(ids {', '.join(map(str, result.instruction_ids))})."
        )
