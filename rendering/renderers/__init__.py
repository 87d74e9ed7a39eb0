"""Render backends. Each turns a claimed instruction into files under OUTPUT_ROOT (or reports why
it could not), chosen by settings.RENDER_BACKEND: `preview` (Pillow, built in), `nexrender`
(a real Nexrender server) or `noop` (no file; for queue benchmarks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rendering.models import RenderInstruction

# Called by a renderer as it makes progress (percent, and the backend's job id once known), and
# with no argument right before it moves a finished file to its final name. It refreshes the
# lease's heartbeat and raises LeaseLost when the worker lost the job meanwhile (a file of a
# lost job must never replace the newer one), RenderTimedOut past the render's deadline.
ProgressCallback = Callable[..., None]


@dataclass(frozen=True)
class RenderResult:
    output_path: str
    file_size: int  # bytes, read from the files written
    frame_count: int = 1


class RenderFailed(Exception):
    """The job itself failed (bad template, unsupported format…). `retryable` False: retrying
    cannot help, so the instruction fails for good."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


class RenderTimedOut(RenderFailed):
    """The render ran past RENDER_DEADLINE_SECONDS: retried like a failure, and once its retries
    are spent the instruction ends STALE (timed out), not FAILED."""


class BackendUnavailable(Exception):
    """The backend could not be reached or is broken: the job goes back to PENDING unharmed and
    the backend's circuit breaker counts a failure."""


class Renderer(Protocol):
    name: str

    def render(
        self, instruction: RenderInstruction, *, progress: ProgressCallback
    ) -> RenderResult: ...


def renderer_for(name: str) -> Renderer:
    if name == "preview":
        from rendering.renderers.preview import PreviewRenderer

        return PreviewRenderer()
    if name == "nexrender":
        from rendering.renderers.nexrender import NexrenderRenderer

        return NexrenderRenderer.from_settings()
    if name == "noop":
        from rendering.renderers.noop import NoopRenderer

        return NoopRenderer()
    raise ValueError(f"Unknown RENDER_BACKEND {name!r} (preview | nexrender | noop)")
