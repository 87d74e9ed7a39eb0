"""A renderer that writes nothing: measures the queue itself (bench/), never used on air."""

from __future__ import annotations

from rendering.models import RenderInstruction
from rendering.renderers import ProgressCallback, RenderResult


class NoopRenderer:
    name = "noop"

    def render(self, instruction: RenderInstruction, *, progress: ProgressCallback) -> RenderResult:
        return RenderResult(output_path=f"noop://{instruction.pk}", file_size=0, frame_count=1)
