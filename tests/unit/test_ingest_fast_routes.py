"""The two ingest POSTs are answered in front of the request middleware and the router (issue 19,
services/ingest/front.py): the answer, the request id, the request metrics and the OpenAPI document must be
those of the FastAPI routes behind it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from prometheus_client import REGISTRY

from services.common.metrics import Scope
from services.ingest.api import HOT_POSTS, router
from services.ingest.app import create_app
from services.ingest.front import HotPosts

HOT = ("/v1/records", "/v1/records:batch")


def _call(app: FastAPI, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[str, str], bytes]:
    """One POST through the app as uvicorn makes it (no lifespan: these answers need no database)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8001),
        "state": {},
    }
    sent: list[Scope] = []  # ASGI messages are mappings too

    async def receive() -> Scope:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Scope) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


def _count(path: str, status: int) -> float:
    labels = {"service": "ingest", "route": path, "method": "POST", "status": str(status)}
    return REGISTRY.get_sample_value("exchange_http_requests_total", labels) or 0.0


def test_the_hot_posts_answer_in_front_exactly_as_the_fastapi_routes_behind_them() -> None:
    front_app = create_app()
    outermost: Any = front_app.user_middleware[0].cls
    assert outermost is HotPosts  # the outermost of the app's own middleware
    twins = {r.path: r.endpoint for r in router.routes if isinstance(r, APIRoute) and "POST" in (r.methods or ())}
    assert {path: twins[path] for path in HOT} == HOT_POSTS
    stack_app = create_app()  # the same app without the front: the request metrics, handlers and routes
    stack_app.user_middleware = [m for m in stack_app.user_middleware if m.cls is not outermost]

    requests = [
        [(b"content-type", b"application/json")],  # no token
        [(b"authorization", b"Basic abc"), (b"x-request-id", b"dept-trace-1")],  # not a bearer token
    ]
    for path in HOT:
        for headers in requests:
            before = _count(path, 401)
            front = _call(front_app, path, headers)
            assert _count(path, 401) == before + 1  # counted under the route template
            stack = _call(stack_app, path, headers)
            assert _count(path, 401) == before + 2
            assert front[0] == stack[0] == 401
            assert front[2] == stack[2]  # the API.md error body, byte for byte
            rid_front, rid_stack = front[1].pop("x-request-id"), stack[1].pop("x-request-id")
            assert front[1] == stack[1]  # content type, length, WWW-Authenticate
            if (b"x-request-id", b"dept-trace-1") in headers:
                assert rid_front == rid_stack == "dept-trace-1"
            else:
                assert uuid.UUID(rid_front).hex == rid_front  # a new id: a random UUID in hex, as before
                assert uuid.UUID(rid_front).version == uuid.UUID(rid_stack).version == 4
                assert rid_front != rid_stack


def test_the_openapi_document_is_built_from_the_fastapi_routes() -> None:
    documented = create_app().openapi()
    for path, body_status in (("/v1/records", "202"), ("/v1/records:batch", "207")):
        operation = documented["paths"][path]["post"]
        assert operation["requestBody"]["required"] is True
        assert {body_status, "401", "413", "415", "422", "503"} <= set(operation["responses"])
        assert operation["security"] == [{"bearer": []}]
