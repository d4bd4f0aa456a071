"""Requests are checked at the boundary: each bad request beside the exact answer it gets, and
nothing of it reaches the runtime."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import APIRouter

from tests.server.conftest import Server

WEBHOOK = "/webhooks/rest/webhook"
JSON = {"Content-Type": "application/json"}


def _body(data: Any) -> bytes:
    return json.dumps(data).encode()


# (body bytes, headers, status, code, fragment of the message)
BAD_REQUESTS = [
    pytest.param(
        _body({"sender": "jo", "message": "x" * 70_000}),
        JSON,
        413,
        "body_too_large",
        "larger than 65536 bytes",
        id="oversize-body",
    ),
    pytest.param(
        b"sender=jo&message=hi",
        {"Content-Type": "application/x-www-form-urlencoded"},
        415,
        "unsupported_media_type",
        "must be UTF-8 JSON (Content-Type: application/json), not 'application/x-www-form-urlencoded'",
        id="form-body",
    ),
    pytest.param(
        b'{"sender": "jo", "message": "hi"}',
        {"Content-Type": "text/plain"},
        415,
        "unsupported_media_type",
        "not 'text/plain'",
        id="text-plain",
    ),
    pytest.param(
        b'{"sender": "jo", "message": "hi"}',
        {"Content-Type": "application/json; charset=latin-1"},
        415,
        "unsupported_media_type",
        "UTF-8 JSON",
        id="other-charset",
    ),
    pytest.param(
        b'{"sender": "jo", "message": "caf\xe9"}',
        JSON,
        400,
        "invalid_utf8",
        "not valid UTF-8 (byte 32)",
        id="latin-1-bytes",
    ),
    pytest.param(b'{"sender": "jo", "message": ', JSON, 400, "invalid_json", "not valid JSON", id="cut-json"),
    pytest.param(
        b"[1, 2]", JSON, 422, "invalid_request", "body: Input should be a valid dictionary", id="array"
    ),
    pytest.param(
        _body({"message": "hi"}), JSON, 422, "invalid_request", "sender: Field required", id="no-sender"
    ),
    pytest.param(
        _body({"sender": "jo"}), JSON, 422, "invalid_request", "message: Field required", id="no-message"
    ),
    pytest.param(
        _body({"sender": 42, "message": "hi"}),
        JSON,
        422,
        "invalid_request",
        "sender: Input should be a valid string",
        id="sender-number",
    ),
    pytest.param(
        _body({"sender": "jo", "message": ["hi"]}),
        JSON,
        422,
        "invalid_request",
        "message: Input should be a valid string",
        id="message-list",
    ),
    pytest.param(
        _body({"sender": "", "message": "hi"}),
        JSON,
        422,
        "invalid_request",
        "sender: String should have at least 1 character",
        id="empty-sender",
    ),
    pytest.param(
        _body({"sender": "j" * 201, "message": "hi"}),
        JSON,
        422,
        "invalid_request",
        "sender: String should have at most 200 characters",
        id="long-sender",
    ),
    pytest.param(
        _body({"sender": "jo", "message": ""}),
        JSON,
        422,
        "invalid_request",
        "message: String should have at least 1 character",
        id="empty-message",
    ),
    pytest.param(
        _body({"sender": "jo", "message": "x" * 4001}),
        JSON,
        422,
        "invalid_request",
        "message: String should have at most 4000 characters",
        id="long-message",
    ),
    pytest.param(
        b'{"sender": "jo", "message": "a\\u0000b"}',
        JSON,
        422,
        "invalid_request",
        "message: Value error, must not contain NUL characters",
        id="nul-character",
    ),
    pytest.param(
        b'{"sender": "jo", "message": "a\\ud800b"}',
        JSON,
        422,
        "invalid_request",
        "message: Input should be a valid string, unable to parse raw data as a unicode string",
        id="lone-surrogate",
    ),
    pytest.param(
        _body({"sender": "jo", "message": "hi", "metadata": "web"}),
        JSON,
        422,
        "invalid_request",
        "metadata: Input should be a valid dictionary",
        id="metadata-not-object",
    ),
    pytest.param(
        _body({"sender": "jo", "message": "hi", "input_channel": "web chat!"}),
        JSON,
        422,
        "invalid_request",
        "input_channel: String should match pattern",
        id="bad-input-channel",
    ),
]


@pytest.mark.parametrize(("body", "headers", "status", "code", "fragment"), BAD_REQUESTS)
def test_boundary_rejects_bad_rest_requests(
    make_server: Callable[..., Server],
    body: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
    fragment: str,
) -> None:
    server = make_server()
    response = server.client.post(WEBHOOK, content=body, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert fragment in error["message"]
    assert server.trackers.conversations() == []  # nothing reached the runtime


def test_boundary_validation_errors_list_every_problem(make_server: Callable[..., Server]) -> None:
    server = make_server()
    response = server.client.post(WEBHOOK, json={"sender": 1})
    assert response.json()["error"]["problems"] == [
        {"field": "sender", "problem": "Input should be a valid string"},
        {"field": "message", "problem": "Field required"},
    ]


def test_boundary_body_without_content_type_is_taken_as_json(make_server: Callable[..., Server]) -> None:
    server = make_server()
    response = server.client.post(WEBHOOK, content=b'{"sender": "jo", "message": "hi"}')
    assert response.status_code == 200
    assert response.json() == [{"recipient_id": "jo", "text": "Hello!"}]


def test_boundary_json_with_utf8_charset_is_accepted(make_server: Callable[..., Server]) -> None:
    server = make_server()
    response = server.client.post(
        WEBHOOK,
        content=b'{"sender": "jo", "message": "hi"}',
        headers={"Content-Type": "application/json; charset=UTF-8"},
    )
    assert response.status_code == 200


def test_boundary_oversize_chunked_body_is_cut_short(make_server: Callable[..., Server]) -> None:
    server = make_server(max_body_bytes=2048)

    def chunks() -> Iterator[bytes]:
        yield b'{"sender": "jo", "message": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    response = server.client.post(WEBHOOK, content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "body_too_large",
        "message": "the body is larger than 2048 bytes (server.max_body_bytes)",
        "limit": 2048,
    }


def test_boundary_unknown_route_and_method_answer_json(make_server: Callable[..., Server]) -> None:
    server = make_server()
    missing = server.client.get("/nowhere")
    assert (missing.status_code, missing.json()["error"]) == (
        404,
        {"code": "not_found", "message": "no route GET /nowhere"},
    )
    wrong = server.client.delete(WEBHOOK)
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")


def test_boundary_request_id_is_echoed_or_made(make_server: Callable[..., Server]) -> None:
    server = make_server()
    given = server.client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = server.client.get("/health", headers={"X-Request-ID": "no spaces allowed"})
    assert len(made.headers["X-Request-ID"]) == 32
    rejected = server.client.post(WEBHOOK, content=b"x", headers={"Content-Type": "text/plain"})
    assert len(rejected.headers["X-Request-ID"]) == 32


def test_boundary_a_crash_answers_500_json_with_the_request_id(make_server: Callable[..., Server]) -> None:
    server = make_server()
    crash = APIRouter()

    @crash.get("/crash")
    async def crashing() -> None:
        raise RuntimeError("boom")

    server.client.app.include_router(crash)  # type: ignore[attr-defined]
    response = server.client.get("/crash", headers={"X-Request-ID": "req-1"})
    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": "internal_error",
        "message": "the server failed to handle this request (request id req-1); it is logged",
    }
    crashed = [line for line in server.log_lines() if line["level"] == "error"]
    assert crashed[0]["request_id"] == "req-1"
    assert "RuntimeError: boom" in crashed[0]["exception"]
