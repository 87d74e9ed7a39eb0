"""Request bodies are refused (413) past their limit before Django reads them.

Django's ASGI handler spools a whole request body (to disk past FILE_UPLOAD_MAX_MEMORY_SIZE)
before any view can look at it, so a size check in the view comes too late. This ASGI layer in
front of it refuses a too-large `Content-Length` at once, and counts the bytes of a body sent
without one (chunked) or with a false one, answering 413 the moment the count passes the limit.
A body within the limit is passed on unchanged.

Limits: a multipart upload (the CSV import) may carry UPLOAD_MAX_BYTES of file plus its form
overhead; any other body DATA_UPLOAD_MAX_MEMORY_SIZE (Django's own cap for form data).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MULTIPART_OVERHEAD = 64 * 1024


def body_limit(content_type: str) -> int:
    if content_type.lower().startswith("multipart/"):
        return settings.UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large_body(path: str, limit: int) -> tuple[bytes, bytes]:
    """(content type, body) of the refusal: the API's one error body under /api/."""
    detail = f"The request body is larger than {limit} bytes."
    if path.startswith("/api/"):
        body = {"code": "too_large", "detail": detail, "errors": {"body": [detail]}}
        return b"application/json", json.dumps(body).encode()
    return b"text/plain; charset=utf-8", detail.encode()


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        limit = body_limit(headers.get(b"content-type", b"").decode("latin-1"))
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, limit)
            return
        body: list[Message] = []
        size = 0
        while True:  # read it all (at most `limit` bytes), then hand it on
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            size += len(message.get("body", b""))
            if size > limit:
                await self._refuse(scope, send, limit)
                return
            body.append(message)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(body, then=receive), send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, limit: int) -> None:
        content_type, payload = too_large_body(scope.get("path", ""), limit)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive
