"""A cap on request bodies for endpoints whose body FastAPI parses itself (pydantic models).

Why: FastAPI reads such a body whole into memory before validating it, so without a cap a public
``POST /v1/objections`` of 50 MB was read, parsed and only then refused with 422 — a cheap way to make a
replica allocate memory. Ingest reads its own bodies with a limit (``INGEST_MAX_BODY_BYTES``); this
middleware gives the other services the same answer: 413 with the API.md error body, refused from
``Content-Length`` before anything is read, or as soon as a chunked body passes the cap.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from fastapi import HTTPException

from services.common.errors import ApiError
from services.common.http import error_response
from services.common.metrics import ASGIApp, Receive, Scope, Send


def too_large_message(max_bytes: int) -> str:
    return f"请求体超过 {max_bytes} 字节 (the request body exceeds {max_bytes} bytes; shorten the text fields)"


class BodyLimit:
    """413 for a request body over ``max_bytes`` on paths starting with one of ``prefixes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, prefixes: tuple[str, ...] = ("/",)) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
        self.app = app
        self.max_bytes = max_bytes
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            response = error_response(413, [ApiError("", "too_large", too_large_message(self.max_bytes))])
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> MutableMapping[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # FastAPI re-raises an HTTPException met while reading the body (any other error
                    # becomes a 400); the app's handler renders it as the API.md 413 body.
                    raise HTTPException(413, too_large_message(self.max_bytes))
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None
