"""Thin typed client of the Nexrender server HTTP API (see the contract notes in the README).

Only this module speaks HTTP to Nexrender. Transport failures and 5xx answers raise
NexrenderUnavailable (the server is down or broken); 4xx answers raise NexrenderRejected (the
job itself is wrong).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class NexrenderUnavailable(Exception):
    """Could not talk to the server, or it answered 5xx / 403 (misconfigured secret)."""


class NexrenderRejected(Exception):
    """The server refused the job (400: invalid job)."""


@dataclass(frozen=True)
class JobStatus:
    uid: str
    state: str  # queued, picked, started, render:*, finished, error
    render_progress: int
    error: str
    updated_at: str

    @property
    def is_final(self) -> bool:
        return self.state in ("finished", "error")


class NexrenderClient:
    def __init__(self, *, base_url: str, secret: str, timeout: float = 10.0):
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"nexrender-secret": secret, "content-type": "application/json"},
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, json: Any = None) -> httpx.Response:
        try:
            response = self._http.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise NexrenderUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in (401, 403):
            raise NexrenderUnavailable(
                f"{method} {path} → {response.status_code}: {response.text[:300]}"
            )
        if response.status_code >= 400:
            raise NexrenderRejected(f"{response.status_code}: {_first_line(response.text)}")
        return response

    def health(self) -> bool:
        try:
            return self._call("GET", "/health").status_code == 200
        except NexrenderUnavailable:
            return False

    def job_submit(self, job: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/jobs", json=job).json()

    def job_status(self, uid: str) -> JobStatus:
        body = self._call("GET", f"/jobs/{uid}/status").json()
        return JobStatus(
            uid=body.get("uid", uid),
            state=str(body.get("state") or ""),
            render_progress=int(float(body.get("renderProgress") or 0)),
            error=_error_text(body.get("error")),
            updated_at=str(body.get("updatedAt") or ""),
        )

    def job_requeue(self, uid: str) -> None:
        """Put a job left picked/started back to queued (the server never does this itself)."""
        self._call("PUT", f"/jobs/{uid}", json={"state": "queued"})

    def job_delete(self, uid: str) -> None:
        self._call("DELETE", f"/jobs/{uid}")


def _first_line(text: str) -> str:
    # Validation failures come back as a Node stack trace: the first line is the message.
    return (text.strip().splitlines() or [""])[0][:500]


def _error_text(error: Any) -> str:
    if not error:
        return ""
    if isinstance(error, list):
        return "; ".join(str(e) for e in error)[:2000]
    return str(error)[:2000]
