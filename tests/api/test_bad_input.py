"""Input that used to escape as a server error, or to be spooled before it was refused: deep
JSON, over-long CSV cells, oversized uploads (in-process, through the ASGI layer and through a
real daphne). Each is a 4xx with a reason, and nothing is stored."""

from __future__ import annotations

import json
import socket
from http import HTTPStatus

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from automation_hub.body_limit import BodyLimitMiddleware
from rendering.models import RenderInstruction
from rendering.services.csv_import import MAX_CELL_CHARS, MAX_CSV_BYTES

pytestmark = pytest.mark.django_db


@pytest.fixture
def sub(key_client):
    return key_client("sub")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_it_refuses_json_nested_too_deeply_for_the_parser_with_400(sub):
    body = '{"template_name": "x", "layer_data": {"a": ' + nested(100_000) + "}}"

    response = sub.post(reverse("instruction-list"), body, content_type="application/json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "nested deeper" in response.json()["detail"]
    assert RenderInstruction.objects.count() == 0


def test_it_refuses_layer_data_deeper_than_the_limit_with_400(sub):
    layer = {"a": json.loads(nested(40))}

    response = sub.post(
        reverse("instruction-list"), {"template_name": "x", "layer_data": layer}, format="json"
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert RenderInstruction.objects.count() == 0


def test_it_refuses_a_value_of_the_wrong_json_type_instead_of_coercing_it(sub):
    response = sub.post(
        reverse("instruction-list"),
        {"template_name": 7, "priority": "3", "trigger_id": False},
        format="json",
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert set(response.json()["errors"]) == {"template_name", "priority", "trigger_id"}
    assert RenderInstruction.objects.count() == 0


def upload(client, content: bytes):
    return client.post(
        reverse("instruction-import"),
        {"file": SimpleUploadedFile("sheet.csv", content, content_type="text/csv")},
        format="multipart",
    )


@pytest.mark.parametrize("where", ["header", "row"])
def test_it_refuses_a_csv_cell_longer_than_the_csv_limit_naming_its_line(sub, where):
    long = "x" * (MAX_CELL_CHARS + 1)
    text = f"template_name,trigger_id\nlower_third,{long}\n"
    if where == "header":
        text = f'template_name,"{long}"\nlower_third,x\n'

    response = upload(sub, text.encode())

    assert response.status_code == HTTPStatus.BAD_REQUEST
    body = response.json()
    assert f"longer than {MAX_CELL_CHARS} characters" in body["detail"]
    assert list(body["errors"]) == [f"line {1 if where == 'header' else 2}"]
    assert RenderInstruction.objects.count() == 0


def test_it_refuses_deep_json_in_a_csv_layer_data_cell(sub):
    cell = nested(5_000)  # fits a cell, too deep for the parser
    response = upload(sub, f'template_name,layer_data\nlower_third,"{cell}"\n'.encode())

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "nested deeper" in json.dumps(response.json()["errors"])
    assert RenderInstruction.objects.count() == 0


def test_it_refuses_an_upload_over_the_limit_with_413_and_stores_nothing(sub):
    content = b"template_name\n" + b"lower_third\n" * (MAX_CSV_BYTES // 12 + 10)

    response = upload(sub, content)

    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json()["code"] == "too_large"
    assert RenderInstruction.objects.count() == 0


def asgi_post(path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> dict:
    """Send a body in chunks through BodyLimitMiddleware; what reached the app, what was sent."""
    reached: list[bytes] = []
    sent: list[dict] = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            reached.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def scenario():
        pending = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks)
        ]
        taken = 0

        async def receive():
            nonlocal taken
            taken += 1
            return pending.pop(0) if pending else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "path": path, "method": "POST", "headers": headers}
        await BodyLimitMiddleware(app)(scope, receive, send)
        return taken

    taken = async_to_sync(scenario)()
    return {"reached": reached, "sent": sent, "chunks_read": taken}


def test_it_stops_reading_a_streamed_body_once_it_passes_the_limit():
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    chunk = b"x" * (256 * 1024)
    chunks = [chunk] * (limit // len(chunk) + 20)

    result = asgi_post("/api/instructions", chunks, [(b"content-type", b"application/json")])

    assert result["reached"] == []  # the hub never saw it
    assert result["sent"][0]["status"] == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert json.loads(result["sent"][1]["body"])["code"] == "too_large"
    assert result["chunks_read"] <= limit // len(chunk) + 2  # stopped at the limit


def test_it_passes_a_body_within_the_limit_on_unchanged():
    result = asgi_post(
        "/api/instructions", [b'{"a":', b" 1}"], [(b"content-type", b"application/json")]
    )

    assert b"".join(result["reached"]) == b'{"a": 1}'
    assert result["sent"][0]["status"] == HTTPStatus.OK


@pytest.mark.django_db(transaction=True)
def test_it_answers_413_before_receiving_a_declared_oversized_upload_on_daphne():
    from tests.dashboard.processes import HubServer

    if settings.HUB_MODE == "production":
        from tests.conftest import redis_unreachable, require_service

        require_service("Redis", redis_unreachable(settings.REDIS_URL))
    server = HubServer().start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
            conn.sendall(
                b"POST /api/instructions/import HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: 1073741824\r\n\r\n--b\r\n"
            )  # a gigabyte announced; a few bytes sent
            answer = conn.recv(65536)
    finally:
        server.stop()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["code"] == "too_large"
