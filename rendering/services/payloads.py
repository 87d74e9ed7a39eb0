"""What the live dashboard receives about instructions (the WebSocket is an edge too)."""

from __future__ import annotations

from typing import Any

from rendering.models import RenderInstruction, RenderOutput


def instruction_live_data(instruction: RenderInstruction) -> dict[str, Any]:
    """The fields a dashboard row shows; sent with every `instruction_updated` event."""
    return {
        "id": instruction.pk,
        "template_name": instruction.template_name,
        "status": instruction.status,
        "priority": instruction.priority,
        "trigger_type": instruction.trigger_type,
        "hand_id": instruction.hand_id,
        "retry_count": instruction.retry_count,
        "render_progress": instruction.render_progress,
        "error_message": instruction.error_message,
        "correlation_id": str(instruction.correlation_id),
        "created_at": instruction.created_at.isoformat() if instruction.created_at else None,
        "updated_at": instruction.updated_at.isoformat() if instruction.updated_at else None,
    }


def render_completed_data(instruction: RenderInstruction, output: RenderOutput) -> dict[str, Any]:
    """The `render_completed` event: the new output of an instruction."""
    return {
        "instruction_id": instruction.pk,
        "template_name": instruction.template_name,
        "output_id": output.pk,
        "output_path": output.output_path,
        "file_size": output.file_size,
        "frame_count": output.frame_count,
        "hand_id": instruction.hand_id,
        "correlation_id": str(instruction.correlation_id),
        "completed_at": output.completed_at.isoformat() if output.completed_at else None,
    }
