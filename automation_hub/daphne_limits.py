"""Two fixes to how daphne (through Twisted) receives a request body, applied when the hub's ASGI
application is loaded (`automation_hub.asgi`).

* Twisted buffers a whole body (to a temporary file past 100 kB) before daphne hands any of it
  to the application, so the hub's own limit (`automation_hub.body_limit`) would come after the
  disk was filled. Here a body is refused (413, the API's one error body, connection closed) the
  moment its `Content-Length`, or the bytes received so far, pass the largest limit the hub
  takes (UPLOAD_MAX_BYTES plus the form's overhead).
* Twisted also parses every multipart body a second time, into `request.args` that daphne never
  reads, and answers one it cannot parse with a bare 400 without a body. Turned off: Django
  parses the upload once, and a malformed one gets the one error body.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from automation_hub.body_limit import MULTIPART_OVERHEAD, too_large_body


def largest_body() -> int:
    return max(settings.UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def install() -> None:
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # served by something else (tests, WSGI): nothing to fix
        return
    if getattr(WebRequest, "_hub_limits", False):
        return
    original_init = WebRequest.__init__
    original_got_length = WebRequest.gotLength
    original_chunk = WebRequest.handleContentChunk
    original_received = WebRequest.requestReceived

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parsePOSTFormSubmission", False)
        self._hub_refused = False
        self._hub_received = 0
        original_init(self, *args, **kwargs)

    def refuse(self: Any) -> None:
        if self._hub_refused:
            return
        self._hub_refused = True
        path = (getattr(self.channel, "_path", None) or b"").decode("latin-1")
        content_type, body = too_large_body(path, largest_body())
        self.channel.transport.write(
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: " + content_type + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )
        self.channel.loseConnection()

    def gotLength(self: Any, length: int | None) -> None:
        if length is not None and length > largest_body():
            original_got_length(self, 0)
            refuse(self)
            return
        original_got_length(self, length)

    def handleContentChunk(self: Any, data: bytes) -> None:
        if self._hub_refused:
            return
        self._hub_received += len(data)
        if self._hub_received > largest_body():
            refuse(self)
            return
        original_chunk(self, data)

    def requestReceived(self: Any, command: bytes, path: bytes, version: bytes) -> None:
        if not self._hub_refused:
            original_received(self, command, path, version)

    WebRequest.__init__ = __init__
    WebRequest.gotLength = gotLength
    WebRequest.handleContentChunk = handleContentChunk
    WebRequest.requestReceived = requestReceived
    WebRequest._hub_limits = True
