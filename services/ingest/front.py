"""The two ingest POSTs answered in front of the request middleware and the router (issue 19).

`POST /v1/records` and `POST /v1/records:batch` carry nearly all of ingest's traffic. Through FastAPI each
request crossed the request metrics, the exception handlers, the exit stack, the router, the route and
Starlette's request/response wrapper, each wrapping the call (and most of them `send`) in one more
coroutine. `HotPosts` is the outermost of the app's own middleware and serves those two paths itself,
doing once, inline, what the layers behind it did for them:

- the request id (`X-Request-ID`, bound for the request's log lines and its CloudEvents, answered in the
  header), the request metrics and the HTTP request log line: `metrics.request_id_of` and
  `metrics.record_request`, the same functions `RequestMetrics` runs for every other path;
- errors: an exception is answered by the handler the app registered for its class (`install_error_handlers`:
  the API.md error bodies), as Starlette's exception middleware does; any other exception goes on to
  FastAPI's server-error middleware (a plain 500), which stays in front, as do its body-limit and
  exception-telemetry layers (the body limit of these endpoints is their own, `read_json`).

Every other path and method goes through the whole stack as before. The endpoints' FastAPI routes stay in
the router, so `/openapi.json` is built from them exactly as before.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.common import request_id
from services.common.metrics import ASGIApp, Receive, Scope, Send, record_request, request_id_of

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response]]


class HotPosts:
    """Pure ASGI middleware: POSTs to the paths of `endpoints` are answered here, everything else passes."""

    def __init__(self, app: ASGIApp, *, service: str, endpoints: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.service = service
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            if root and path.startswith(root):  # behind a proxy's prefix, as Starlette's router strips it
                path = path[len(root) :]
            endpoint = self.endpoints.get(path)
            if endpoint is not None:
                await self._serve(endpoint, path, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(self, endpoint: Endpoint, route: str, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        rid = request_id_of(scope)
        token = request_id.bind(rid)
        status = 500  # what the server-error middleware answers if the endpoint raises past the handlers
        try:
            request = Request(scope, receive)
            try:
                response = await endpoint(request)
            except Exception as exc:
                handler = _handler_for(scope["app"].exception_handlers, exc)
                if handler is None:
                    raise
                response = await handler(request, exc)
            status = response.status_code
            headers = [*response.raw_headers, (b"x-request-id", rid.encode())]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": response.body})
        finally:
            record_request(self.service, scope, route, status, started, rid)
            request_id.reset(token)


def _handler_for(handlers: Mapping[Any, Handler], exc: Exception) -> Handler | None:
    """The handler registered for the exception's class or its nearest base (Starlette's lookup); the ones
    for `Exception` and 500 belong to the server-error middleware."""
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None
