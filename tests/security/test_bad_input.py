"""Bad input at the HTTP layer: oversized, deeply nested, mistyped, mis-encoded and NUL-carrying requests,
and clients that send slowly. Every refusal is a 4xx with the API.md error body, never a 5xx.

Ingest's own limits (413 body and batch, 415, 400 malformed JSON) are in
``tests/integration/test_ingest_api.py``; this module adds publish's public ``POST /v1/objections``, deep
nesting and NUL characters everywhere, and uvicorn's behaviour with slow clients (a real served process).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from deploy.processes import free_port
from deploy.stack import Stack
from services.common.bodylimit import too_large_message
from services.publish.settings import PublishSettings
from tests import factories
from tests.helpers import eventually

LIMIT = PublishSettings().public_max_body_bytes
OBJECTION = {
    "record_id": "AMR.NO-SUCH-RECORD",
    "subject_code": "91500101MA00000000",
    "reason": "不属实",
    "contact": "1",
}
JSON = {"Content-Type": "application/json"}


def _error_codes(response: httpx.Response) -> list[str]:
    """The codes of an API.md error body (and that it is one)."""
    errors = response.json()["errors"]
    assert errors, response.text
    for error in errors:
        assert set(error) == {"path", "code", "message"}, error
        assert error["message"], error
    return [e["code"] for e in errors]


# -- publish: POST /v1/objections (public, no token) ----------------------------------------------


async def test_an_oversized_objection_is_refused_before_it_is_read(publish: httpx.AsyncClient) -> None:
    body = b'{"reason": "' + b"x" * LIMIT + b'"}'
    response = await publish.post("/v1/objections", content=body, headers=JSON)
    assert response.status_code == 413
    assert _error_codes(response) == ["too_large"]
    assert response.json()["errors"][0]["message"] == too_large_message(LIMIT)


async def test_an_oversized_chunked_objection_is_refused_once_past_the_limit(publish: httpx.AsyncClient) -> None:
    """No Content-Length (chunked): the body is counted as it arrives and refused at the limit."""
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"reason": "'
        for _ in range(1000):  # up to 16 MB, far more than is ever read
            sent += 16_384
            yield b"x" * 16_384

    response = await publish.post("/v1/objections", content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert _error_codes(response) == ["too_large"]
    assert sent < 2 * LIMIT  # stopped reading soon after the limit


async def test_the_largest_valid_objection_fits_under_the_limit(publish: httpx.AsyncClient) -> None:
    """4000 Chinese characters of reason, every one JSON-escaped (6 bytes each), still reach the app."""
    body = OBJECTION | {"reason": "异" * 4000, "contact": "联" * 200, "record_id": "AMR." + "R" * 196}
    content = httpx.Request("POST", "/", json=body).content.replace("异".encode(), b"\\u5f02")
    assert len(content) < LIMIT
    response = await publish.post("/v1/objections", content=content, headers=JSON)
    assert response.status_code == 404, response.text  # past the limit and validation: no such record


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b'{"record_id": "' + b"[" * 30_000, "application/json", id="unterminated-deep-nesting"),
        pytest.param(b'{"record_id": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", "application/json", id="deep-nesting"),
        pytest.param(b'{"record_id": "\xff\xfe", "reason": "x"}', "application/json", id="invalid-utf8"),
        pytest.param(b'{"record_id": "AMR.X", "reason": "\\ud800"}', "application/json", id="lone-surrogate"),
        pytest.param(b"[1, 2, 3]", "application/json", id="array-not-object"),
        pytest.param(b'"text"', "application/json", id="string-not-object"),
        pytest.param(b"null", "application/json", id="null"),
        pytest.param(b"", "application/json", id="empty"),
        pytest.param(b'{"record_id": 1, "reason": ["x"], "contact": {}}', "application/json", id="wrong-types"),
        pytest.param(b"record_id=AMR.X&reason=x", "application/x-www-form-urlencoded", id="form-encoded"),
        pytest.param(b'{"record_id": "AMR.X"}', "text/plain", id="text-plain"),
        pytest.param(
            b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--b--",
            "multipart/form-data; boundary=b",
            id="multipart",
        ),
        pytest.param(b'{"record_id": "AMR.X"}', None, id="no-content-type"),
    ],
)
async def test_malformed_objection_bodies_get_a_4xx_with_the_error_body(
    publish: httpx.AsyncClient, content: bytes, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await publish.post("/v1/objections", content=content, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert _error_codes(response)


async def test_unknown_objection_fields_are_refused_by_name(publish: httpx.AsyncClient) -> None:
    response = await publish.post("/v1/objections", json=OBJECTION | {"department": "AMR", "raised_by": "TAX"})
    assert response.status_code == 422
    assert {e["path"] for e in response.json()["errors"]} == {"/department", "/raised_by"}


@pytest.mark.parametrize("field", ["record_id", "subject_code", "reason", "contact"])
async def test_a_nul_character_in_an_objection_is_refused_not_a_server_error(
    publish: httpx.AsyncClient, field: str
) -> None:
    """PostgreSQL cannot store or compare text holding U+0000: refused as the request's fault (422), not
    answered "database unavailable, retry" (503) — a retry would fail forever."""
    response = await publish.post("/v1/objections", json=OBJECTION | {field: OBJECTION[field] + "\x00"})
    assert response.status_code in (404, 422), response.text
    assert _error_codes(response)


# -- ingest: nesting and NUL ------------------------------------------------------------------------


def _bearer(tokens: dict[str, str], who: str = "AMR") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['TOKEN_' + who]}"}


async def test_a_record_nested_deeper_than_json_allows_is_malformed(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty()
    body = httpx.Request("POST", "/", json=record).content[:-1] + b', "deep": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    response = await ingest.post("/v1/records", content=body, headers=_bearer(tokens) | JSON)
    assert response.status_code == 400
    assert _error_codes(response) == ["malformed_json"]


async def test_a_record_holding_a_nul_character_is_refused_at_its_pointer(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """Accepted, it would have been dead-lettered by every consumer (jsonb cannot hold U+0000): the
    department had a receipt for a record nobody could see."""
    record = factories.penalty(fine=20.0)
    record["data"]["CF_SY"] = "当事人\x00销售过期食品"
    response = await ingest.post("/v1/records", json=record, headers=_bearer(tokens))
    assert response.status_code == 422, response.text
    assert [(e["path"], e["code"]) for e in response.json()["errors"]] == [("/data/CF_SY", "nul_character")]

    batch = {"records": [record, factories.penalty(fine=20.0)]}
    response = await ingest.post("/v1/records:batch", json=batch, headers=_bearer(tokens))
    assert [item["status"] for item in response.json()["results"]] == [422, 202]


# -- every parameter of every service: NUL and very long values ----------------------------------

# A valid value for each required parameter, so the one under test is what the service judges.
REQUIRED_VALUES = {"matter": "government_procurement", "month": "2026-11", "code": "91500101MA00000000"}


def _parameter_cases(spec: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, str], str]]:
    """(method, path with parameters filled in, parameter under test, query, where) for every string
    parameter of every operation, the parameter holding ``{value}``."""
    for template, operations in spec["paths"].items():
        for method, operation in operations.items():
            parameters = [p for p in operation.get("parameters", []) if p["in"] in ("path", "query")]
            for tested in parameters:
                path, query = template, {}
                for p in parameters:
                    value = "{value}" if p is tested else REQUIRED_VALUES.get(p["name"], "X1")
                    if p["in"] == "path":
                        path = path.replace("{" + p["name"] + "}", value)
                    elif p is tested or p.get("required"):
                        query[p["name"]] = value
                yield method.upper(), path, tested["name"], query, tested["in"]


@pytest.mark.parametrize("service", ["ingest", "grading", "sanctions", "publish", "bridge"])
@pytest.mark.parametrize(
    ("label", "value"),
    [("nul", "A\x00B"), ("long", "长" * 5000), ("control", "\x1b[31m\r\n"), ("huge-number", "9" * 40)],
)
async def test_odd_values_in_any_parameter_never_fail_the_server(
    service: str, label: str, value: str, apps: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    """Schema-driven: every path and query parameter of every documented operation gets a NUL
    character, 5000 characters, terminal control characters or a 40-digit number; with a county token (which may read
    everything) so the value reaches the service's logic and its SQL, not only the role check."""
    client = apps[service]
    spec = client.app.openapi()  # type: ignore[attr-defined]
    failures = []
    for method, path, name, query, where in _parameter_cases(spec):
        filled_path = path.replace("{value}", quote(value, safe=""))
        params = {k: (value if v == "{value}" else v) for k, v in query.items()}
        response = await client.request(method, filled_path, params=params, headers=_bearer(tokens, "COUNTY"))
        if response.status_code >= 500:
            failures.append(f"{method} {path} ({where} {name}): {response.status_code} {response.text[:200]}")
        elif response.status_code >= 400:
            _error_codes(response)
    assert not failures, "\n".join(failures)


# -- slow clients, against a real `python -m services.ingest` ------------------------------------


@pytest.fixture(scope="module")
def real_ingest(stack: Stack, tokens: dict[str, str]) -> Iterator[tuple[str, int]]:
    """A second ingest process as `make up` runs it (uvicorn with the project's settings), on its own
    port; ingest has no consumer, so it competes with no in-process service."""
    port = free_port()
    stack.start_service("ingest", instance=9, port=port)
    try:
        yield "127.0.0.1", port
    finally:
        stack.stop_service("ingest", instance=9)


async def _ready(host: str, port: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=2) as client:

        async def answers() -> bool:
            with contextlib.suppress(httpx.TransportError):
                return (await client.get("/healthz")).status_code == 200
            return False

        await eventually(answers, timeout=60, what="the ingest process to answer /healthz")


async def _healthz_seconds(host: str, port: int) -> float:
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=5) as client:
        assert (await client.get("/healthz")).status_code == 200
    return time.monotonic() - started


async def test_a_slow_client_holds_only_its_own_connection(
    real_ingest: tuple[str, int], tokens: dict[str, str]
) -> None:
    """uvicorn has no timeout for reading a request: headers sent, then a body trickled over 7 seconds
    (longer than its 5-second keep-alive timeout, which applies only *between* requests) is waited for
    and answered. Meanwhile other clients are served at once, and so are 50 connections that stalled
    in the middle of their headers (slowloris). The limit is therefore the process's file descriptors;
    a deployment sets header and body timeouts on its reverse proxy (SECURITY.md, "Input limits")."""
    host, port = real_ingest
    await _ready(host, port)
    body = httpx.Request("POST", "/", json=factories.penalty()).content
    head = (
        f"POST /v1/records HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {tokens['TOKEN_AMR']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    stalled = []
    for _ in range(50):
        _, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never finished
        stalled.append(writer)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head)
        pieces = [body[i : i + len(body) // 14 + 1] for i in range(0, len(body), len(body) // 14 + 1)]
        for piece in pieces:
            await writer.drain()
            assert await _healthz_seconds(host, port) < 2  # others are served meanwhile
            await asyncio.sleep(0.5)  # the slow client's pace: the behaviour under test, not a wait
            writer.write(piece)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
        assert status_line.startswith(b"HTTP/1.1 202"), status_line  # the trickled record was accepted
    finally:
        writer.close()
        for w in stalled:
            w.close()
