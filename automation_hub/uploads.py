"""A cap on uploaded files that holds while the body streams in (not after it was spooled)."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler

from automation_hub.body_limit import MULTIPART_OVERHEAD
from automation_hub.errors import TooLarge


def too_large(limit: int) -> TooLarge:
    message = f"The file is larger than {limit} bytes."
    return TooLarge(message, fields={"file": [message]})


class SizeCapUploadHandler(FileUploadHandler):
    """First in the chain: refuses a declared length past the limit before reading anything,
    and stops the parse the moment the file's bytes pass it (a chunked or lying body)."""

    def __init__(self, request: Any = None, *, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: Any = None
    ) -> None:
        if content_length > self.limit + MULTIPART_OVERHEAD:
            raise too_large(self.limit)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            raise too_large(self.limit)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def upload_cap(request: Any, *, limit: int) -> None:
    """Put the cap in front of Django's upload handlers; call before the body is parsed."""
    django_request = getattr(request, "_request", request)
    if not any(isinstance(h, SizeCapUploadHandler) for h in django_request.upload_handlers):
        django_request.upload_handlers.insert(0, SizeCapUploadHandler(django_request, limit=limit))
