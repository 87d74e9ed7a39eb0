"""The Nexrender backend: submit the instruction as a Nexrender job and follow it to the end.

queued → picked → started → render:* → finished | error. Render progress is written to the
instruction (and is its heartbeat). A job left picked/started without news for
NEXRENDER_STUCK_SECONDS is put back to queued (Nexrender never does this itself), at most
NEXRENDER_MAX_REQUEUES times. Finished and failed jobs are deleted from the server.
The AE worker's `@nexrender/action-copy` puts the result at the instruction's stable output path
on the shared output storage, where its size is read.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from django.conf import settings

from automation_hub.errors import LeaseLost
from rendering.clients.nexrender import (
    JobStatus,
    NexrenderClient,
    NexrenderRejected,
    NexrenderUnavailable,
)
from rendering.models import RenderInstruction
from rendering.renderers import BackendUnavailable, ProgressCallback, RenderFailed, RenderResult
from rendering.renderers.preview import output_stem

logger = logging.getLogger(__name__)

EXTENSIONS = {"PNG": "png", "MOV": "mov", "MP4": "mp4"}


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    """Layer data → (layer name, text) pairs: players[0].name becomes `players_1_name`."""
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _flatten(f"{prefix}_{k}", v)]
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            pairs = [(f"{prefix}_{i + 1}", str(v)) for i, v in enumerate(value)]
            return [(prefix, " ".join(str(v) for v in value)), *pairs]
        return [pair for i, v in enumerate(value) for pair in _flatten(f"{prefix}_{i + 1}", v)]
    return [(prefix, "" if value is None else str(value))]


def nexrender_job(instruction: RenderInstruction, *, uid: str, target: Path) -> dict[str, Any]:
    """The Nexrender job of an instruction: template `<root>/<template_name>.aep`, one text
    layer per layer_data value, and a copy of the result to the stable output path."""
    output = instruction.output_settings or {}
    fmt = str(output.get("format") or "PNG").upper()
    root = settings.NEXRENDER_TEMPLATE_ROOT.rstrip("/")
    assets = [
        {"type": "data", "layerName": name, "property": "Source Text", "value": text}
        for key, value in (instruction.layer_data or {}).items()
        for name, text in _flatten(str(key), value)
    ]
    return {
        "uid": uid,
        "priority": 11 - instruction.priority,  # Nexrender: higher first; the hub: 1 first
        "template": {
            "src": f"{root}/{instruction.template_name}.aep",
            "composition": str(output.get("composition") or "main"),
            "outputExt": EXTENSIONS.get(fmt, "png"),
            **(
                {"frameEnd": int(output["frame_count"]) - 1}
                if int(output.get("frame_count") or 1) > 1
                else {}
            ),
        },
        "assets": assets,
        "actions": {"postrender": [{"module": "@nexrender/action-copy", "output": str(target)}]},
    }


class NexrenderRenderer:
    name = "nexrender"

    def __init__(self, client: NexrenderClient):
        self.client = client

    @classmethod
    def from_settings(cls) -> NexrenderRenderer:
        return cls(
            NexrenderClient(
                base_url=settings.NEXRENDER_URL,
                secret=settings.NEXRENDER_SECRET,
                timeout=settings.NEXRENDER_HTTP_TIMEOUT_SECONDS,
            )
        )

    def render(self, instruction: RenderInstruction, *, progress: ProgressCallback) -> RenderResult:
        fmt = str((instruction.output_settings or {}).get("format") or "PNG").upper()
        target = output_stem(instruction).with_suffix(f".{EXTENSIONS.get(fmt, 'png')}")
        target.parent.mkdir(parents=True, exist_ok=True)
        uid = f"hub-{instruction.pk}-{instruction.lease_id.hex[:12]}"
        try:
            self.client.job_submit(nexrender_job(instruction, uid=uid, target=target))
        except NexrenderRejected as exc:
            raise RenderFailed(f"Nexrender refused the job: {exc}", retryable=False) from exc
        except NexrenderUnavailable as exc:
            raise BackendUnavailable(str(exc)) from exc
        progress(percent=0, external_id=uid)
        try:
            status = self._follow(uid, progress)
        except NexrenderUnavailable as exc:
            raise BackendUnavailable(str(exc)) from exc
        except (LeaseLost, RenderFailed):
            self._delete(uid)  # cancelled, reaped or hopelessly stuck: free the AE machine
            raise
        self._delete(uid)
        if status.state == "error":
            raise RenderFailed(f"Nexrender job {uid} failed: {status.error or 'no message'}")
        if not target.exists():
            raise RenderFailed(f"Nexrender job {uid} finished but {target} is not there")
        frames = int((instruction.output_settings or {}).get("frame_count") or 1)
        return RenderResult(
            output_path=str(target), file_size=target.stat().st_size, frame_count=frames
        )

    def _follow(self, uid: str, progress: ProgressCallback) -> JobStatus:
        last_seen = (None, None, None)
        last_change = last_beat = time.monotonic()
        requeues = 0
        while True:
            status = self.client.job_status(uid)
            if status.is_final:
                return status
            now = time.monotonic()
            seen = (status.state, status.updated_at, status.render_progress)
            if seen != last_seen:
                last_seen, last_change = seen, now
                progress(percent=min(status.render_progress, 99))
                last_beat = now
            elif now - last_beat >= settings.RENDER_HEARTBEAT_SECONDS:
                progress()
                last_beat = now
            stuck = status.state != "queued" and (
                now - last_change >= settings.NEXRENDER_STUCK_SECONDS
            )
            if stuck:
                if requeues >= settings.NEXRENDER_MAX_REQUEUES:
                    raise RenderFailed(
                        f"Nexrender job {uid} stuck in {status.state} after {requeues} re-queues"
                    )
                logger.warning("nexrender job %s stuck in %s: re-queued", uid, status.state)
                self.client.job_requeue(uid)
                requeues += 1
                last_change = now
            time.sleep(settings.NEXRENDER_POLL_SECONDS)

    def _delete(self, uid: str) -> None:
        try:
            self.client.job_delete(uid)
        except (NexrenderUnavailable, NexrenderRejected):
            logger.warning("nexrender job %s could not be deleted from the server", uid)
