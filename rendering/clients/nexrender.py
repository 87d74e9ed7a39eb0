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
        """One job's status. The server answers 500 for a uid it does not know (indistinguishable
        from a broken server): to ask whether a job exists, use `jobs_status`."""
        return _status(self._call("GET", f"/jobs/{uid}/status").json(), uid)

    def jobs_status(self) -> dict[str, JobStatus]:
        """Every job on the server by uid, in one call: how many in-flight jobs are followed
        with one poll, and how a job that does not exist is told from a server that is down."""
        body = self._call("GET", "/jobs/status").json()
        if not isinstance(body, list):
            raise NexrenderUnavailable(f"GET /jobs/status → not a list: {str(body)[:200]}")
        return {
            status.uid: status
            for item in body
            if isinstance(item, dict) and (status := _status(item, "")).uid
        }

    def job_requeue(self, uid: str) -> None:
        """Put a job left picked/started back to queued (the server never does this itself)."""
        self._call("PUT", f"/jobs/{uid}", json={"state": "queued"})

    def job_delete(self, uid: str) -> None:
        self._call("DELETE", f"/jobs/{uid}")


def _status(body: dict[str, Any], uid: str) -> JobStatus:
    return JobStatus(
        uid=str(body.get("uid") or uid),
        state=str(body.get("state") or ""),
        render_progress=int(float(body.get("renderProgress") or 0)),
        error=_error_text(body.get("error")),
        updated_at=str(body.get("updatedAt") or ""),
    )


def _first_line(text: str) -> str:
    # Validation failures come back as a Node stack trace: the first line is the message.
    return (text.strip().splitlines() or [""])[0][:500]


def _error_text(error: Any) -> str:
    if not error:
        return ""
    if isinstance(error, list):
        return "; ".join(str(e) for e in error)[:2000]
    return str(error)[:2000]
