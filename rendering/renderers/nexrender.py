"""The Nexrender backend: an instruction becomes a Nexrender job whose identity outlives a lease.

The job's uid (`<NEXRENDER_JOB_PREFIX>-<id>-<token>`) is stored on the instruction (`external_id`,
ASSIGN_JOB) before the job is submitted, and kept across release, reap and re-claim. A claim
first asks the server about that job:

* finished with its output present → completed, without rendering again;
* queued / picked / started / render:* → adopted and followed;
* error → a failed attempt (counted like any render failure);
* unknown (absent from `GET /jobs/status`) → submitted with that uid.

The worker that claimed the row only does that, then hands the lease to the `nexrender-follower`
(`rendering/services/nexrender_follower.py`), which follows every job in flight with one status
call a poll; a render never pins a hub worker. Jobs the hub gives up on are deleted from the
server. The AE worker's `@nexrender/action-copy` puts the result at the instruction's stable
output path on the shared output storage, where its size is read.
"""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings

from rendering.clients.nexrender import (
    JobStatus,
    NexrenderClient,
    NexrenderRejected,
    NexrenderUnavailable,
)
from rendering.models import InstructionStatus, RenderInstruction
from rendering.renderers import BackendUnavailable, RenderFailed, RenderResult
from rendering.renderers.preview import output_stem
from rendering.services.transitions.lease import instruction_assign_job, instruction_hand_off

logger = logging.getLogger(__name__)

EXTENSIONS = {"PNG": "png", "MOV": "mov", "MP4": "mp4"}

# Where a worker leaves a submitted job's lease; the follower takes it from there to its own
# `host:pid` (so a dead follower's jobs are freed at once). Unclaimed for the lease timeout (no
# follower runs), it is reaped like any silent holder.
FOLLOWER_INBOX = "nexrender-follower"
IN_FLIGHT = frozenset({"queued", "picked", "started"})


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


def job_target(instruction: RenderInstruction) -> Path:
    """The stable output path the AE machine's copy action writes."""
    fmt = str((instruction.output_settings or {}).get("format") or "PNG").upper()
    return output_stem(instruction).with_suffix(f".{EXTENSIONS.get(fmt, 'png')}")


def job_frames(instruction: RenderInstruction) -> int:
    return int((instruction.output_settings or {}).get("frame_count") or 1)


def job_uid_pattern() -> re.Pattern[str]:
    """This hub's job uids; the group is the instruction id."""
    return re.compile(rf"^{re.escape(settings.NEXRENDER_JOB_PREFIX)}-(\d+)-[0-9a-f]+$")


def job_uid_of(instruction: RenderInstruction) -> str | None:
    """The job a previous lease of this instruction stored, if it is this hub's."""
    match = job_uid_pattern().match(instruction.external_id or "")
    return instruction.external_id if match and int(match.group(1)) == instruction.pk else None


def job_is_in_flight(status: JobStatus) -> bool:
    return status.state in IN_FLIGHT or status.state.startswith("render:")


def nexrender_client() -> NexrenderClient:
    return NexrenderClient(
        base_url=settings.NEXRENDER_URL,
        secret=settings.NEXRENDER_SECRET,
        timeout=settings.NEXRENDER_HTTP_TIMEOUT_SECONDS,
    )


def nexrender_in_flight() -> int:
    """Nexrender jobs the hub holds right now (submitting, or followed on the server)."""
    return RenderInstruction.objects.filter(
        status=InstructionStatus.PROCESSING, backend="nexrender"
    ).count()


def job_result(instruction: RenderInstruction, uid: str) -> RenderResult:
    """The result of a finished job: its output file, which must be there."""
    target = job_target(instruction)
    if not target.exists():
        raise RenderFailed(f"Nexrender job {uid} finished but {target} is not there")
    return RenderResult(
        output_path=str(target),
        file_size=target.stat().st_size,
        frame_count=job_frames(instruction),
    )


def job_delete(client: NexrenderClient, uid: str) -> bool:
    """Remove a job from the server (idempotent); False when the server did not answer."""
    try:
        client.job_delete(uid)
    except (NexrenderUnavailable, NexrenderRejected):
        logger.warning("nexrender job %s could not be deleted from the server", uid)
        return False
    return True


class NexrenderRenderer:
    """Starts (or finds again) an instruction's job, then hands it to the follower."""

    name = "nexrender"

    def __init__(self, client: NexrenderClient):
        self.client = client

    @classmethod
    def from_settings(cls) -> NexrenderRenderer:
        return cls(nexrender_client())

    def health(self) -> bool:
        """`GET /api/v1/health`: the circuit breaker's half-open trial."""
        return self.client.health()

    def start(self, instruction: RenderInstruction, *, worker_id: str) -> RenderResult | None:
        """Submit or adopt the instruction's job under the worker's lease. A RenderResult when
        the job had already finished (the caller completes), None once handed to the follower.
        RenderFailed: the job failed or was refused; BackendUnavailable: the server is down."""
        lease = instruction.lease_id
        uid = job_uid_of(instruction)
        try:
            status = self.client.jobs_status().get(uid) if uid else None
            if uid is None:
                uid = f"{settings.NEXRENDER_JOB_PREFIX}-{instruction.pk}-{uuid.uuid4().hex[:12]}"
                instruction_assign_job(
                    instruction_id=instruction.pk,
                    worker_id=worker_id,
                    lease_id=lease,
                    external_id=uid,
                )
            if status is not None and status.state == "finished":
                result = self._finished(instruction, uid)
                if result is not None:
                    return result
            elif status is not None and status.state == "error":
                job_delete(self.client, uid)
                raise RenderFailed(f"Nexrender job {uid} failed: {status.error or 'no message'}")
            elif status is None or not job_is_in_flight(status):
                self._submit(instruction, uid)
        except NexrenderUnavailable as exc:
            raise BackendUnavailable(str(exc)) from exc
        instruction_hand_off(
            instruction_id=instruction.pk, worker_id=worker_id, lease_id=lease, to=FOLLOWER_INBOX
        )
        return None

    def _finished(self, instruction: RenderInstruction, uid: str) -> RenderResult | None:
        """A job an earlier lease left finished: its file is the result. Without its file it is
        rendered again (resubmitted under the same uid)."""
        try:
            result = job_result(instruction, uid)
        except RenderFailed:
            job_delete(self.client, uid)
            self._submit(instruction, uid)
            return None
        logger.info("instruction %s: job %s had finished: no render again", instruction.pk, uid)
        job_delete(self.client, uid)
        return result

    def _submit(self, instruction: RenderInstruction, uid: str) -> None:
        target = job_target(instruction)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client.job_submit(nexrender_job(instruction, uid=uid, target=target))
        except NexrenderRejected as exc:
            raise RenderFailed(f"Nexrender refused the job: {exc}", retryable=False) from exc
