"""What each render backend can render, in one place: the renderers enforce it, and the API, the
CSV import and the edit-and-retry form refuse at submission what the configured backend would
later fail on (400 with a message per output setting).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any

from django.conf import settings

VIDEO_FORMATS = ("MOV", "MP4")


@dataclass(frozen=True)
class Capabilities:
    backend: str
    formats: tuple[str, ...]
    min_size: tuple[int, int]  # smallest width, height
    max_pixels: int  # width * height
    max_frames: int
    # MOV / MP4 need an encoder on the workers (ffmpeg on their PATH for the preview renderer).
    video_encoding: bool

    @property
    def max_size_text(self) -> str:
        return "3840x2160" if self.max_pixels == 3840 * 2160 else f"{self.max_pixels} pixels"

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "formats": list(self.formats),
            "resolution": {"min": "x".join(map(str, self.min_size)), "max": self.max_size_text},
            "frame_count": {"min": 1, "max": self.max_frames},
            "video_encoding": self.video_encoding,
        }


PREVIEW_MIN_SIZE = (320, 180)
PREVIEW_MAX_PIXELS = 3840 * 2160
PREVIEW_MAX_FRAMES = 600
# After Effects renders what Nexrender sends it; the hub asks no more than a day of 60 fps.
NEXRENDER_MAX_FRAMES = 10_000


def ffmpeg_available() -> bool:
    """The preview renderer's video encoder. The workers of `make run` share this host's PATH;
    a worker without it still refuses the job itself (RenderFailed, not retried)."""
    return shutil.which("ffmpeg") is not None


def capabilities_for(backend: str | None = None) -> Capabilities:
    """The capabilities of `backend` (default: settings.RENDER_BACKEND)."""
    backend = backend or settings.RENDER_BACKEND
    if backend == "preview":
        video = ffmpeg_available()
        return Capabilities(
            backend=backend,
            formats=("PNG", *VIDEO_FORMATS) if video else ("PNG",),
            min_size=PREVIEW_MIN_SIZE,
            max_pixels=PREVIEW_MAX_PIXELS,
            max_frames=PREVIEW_MAX_FRAMES,
            video_encoding=video,
        )
    return Capabilities(
        backend=backend,
        formats=("PNG", *VIDEO_FORMATS),
        min_size=PREVIEW_MIN_SIZE,
        max_pixels=PREVIEW_MAX_PIXELS,
        max_frames=NEXRENDER_MAX_FRAMES,
        video_encoding=True,
    )


def output_settings_problems(
    output_settings: dict[str, Any], caps: Capabilities | None = None
) -> dict[str, list[str]]:
    """A message per output setting `caps` cannot render ({} when all is well). Expects the
    shapes the serializer already checked (format upper case, resolution WIDTHxHEIGHT)."""
    caps = caps or capabilities_for()
    problems: dict[str, list[str]] = {}
    fmt = str(output_settings.get("format") or "PNG").upper()
    if fmt not in caps.formats:
        why = (
            " (no video encoder: ffmpeg is not on the workers' PATH)"
            if fmt in VIDEO_FORMATS and not caps.video_encoding
            else ""
        )
        problems["format"] = [
            f"The {caps.backend} renderer cannot write {fmt}{why}; "
            f"choose one of: {', '.join(caps.formats)}."
        ]
    resolution = str(output_settings.get("resolution") or "1920x1080")
    try:
        width, height = (int(part) for part in resolution.lower().split("x"))
    except ValueError:
        problems["resolution"] = ["Write it as WIDTHxHEIGHT, e.g. 1920x1080."]
    else:
        low_w, low_h = caps.min_size
        if width < low_w or height < low_h or width * height > caps.max_pixels:
            problems["resolution"] = [
                f"The {caps.backend} renderer takes {low_w}x{low_h} … {caps.max_size_text}."
            ]
    frames = output_settings.get("frame_count", 1)
    whole = isinstance(frames, int) and not isinstance(frames, bool)
    if not whole or not 1 <= frames <= caps.max_frames:
        problems["frame_count"] = [
            f"The {caps.backend} renderer takes 1 … {caps.max_frames} frames."
        ]
    return problems
