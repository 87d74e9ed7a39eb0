"""Rendered files on the output storage: what a reported output really is, read by the hub."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from automation_hub.errors import InvalidInput

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".exr", ".tif", ".tiff", ".dpx")


@dataclass(frozen=True)
class OutputFile:
    path: Path  # resolved, under OUTPUT_ROOT
    file_size: int  # bytes: the file, or every frame of a sequence folder
    frame_count: int


def output_file_read(raw_path: str) -> OutputFile:
    """The file (or PNG-sequence folder) at `raw_path`, which must exist under OUTPUT_ROOT
    (absolute, or relative to it): InvalidInput (400, field `output_path`) otherwise. Links are
    followed before the check, so none can point the hub outside the output root."""
    root = Path(settings.OUTPUT_ROOT).resolve()
    path = Path(raw_path)
    if not path.is_absolute():
        path = root / path
    try:
        path = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise _bad("No file or folder at this path on the output storage.") from None
    if not path.is_relative_to(root):
        raise _bad(f"Must be under the output root ({root}).")
    if path.is_file():
        return OutputFile(path=path, file_size=path.stat().st_size, frame_count=1)
    frames = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES]
    if not path.is_dir() or not frames:
        raise _bad("Neither a file nor a folder of frames.")
    return OutputFile(
        path=path, file_size=sum(p.stat().st_size for p in frames), frame_count=len(frames)
    )


def _bad(message: str) -> InvalidInput:
    return InvalidInput(f"output_path: {message}", fields={"output_path": [message]})


def pull_holder(*, key_prefix: str, worker_id: str) -> str:
    """How the queue names a job held over the pull API: by the API key that claimed it (so no
    other key can report on it) and the machine's own worker id."""
    return f"ae:{key_prefix}:{worker_id}"
