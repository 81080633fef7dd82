"""A minimal HTTP/1.1 keep-alive client on asyncio protocols and httptools (the parser uvicorn uses).

Requests are pre-serialised bytes, so a request costs one `write` and one parse: a few µs of the load
generator's CPU instead of the hundreds a general-purpose client spends. One request in flight per
connection (no pipelining), as a department's HTTP client would do. A connection the server closed
(idle keep-alive timeout) is reopened before the next request.
"""

from __future__ import annotations

import asyncio
from typing import cast

import httptools


class ConnectionClosed(ConnectionError):
    pass


class _Protocol(asyncio.Protocol):
    def __init__(self, keep_body: bool) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._keep_body = keep_body
        self._body: list[bytes] = []
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self.ready.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionClosed(f"unparsable response: {exc}"))
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionClosed(str(exc) if exc else "closed by the server"))

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._body = []

    def on_body(self, body: bytes) -> None:
        if self._keep_body:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result((self._parser.get_status_code(), b"".join(self._body)))

    def send(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter


class Connection:
    def __init__(self, host: str, port: int, *, keep_body: bool = False) -> None:
        self._host = host
        self._port = port
        self._keep_body = keep_body
        self._protocol: _Protocol | None = None
        self.reconnects = 0

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(lambda: _Protocol(self._keep_body), self._host, self._port)
        await protocol.ready  # uvloop may call connection_made after create_connection returns
        return protocol

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """Send one pre-serialised request; return (status, body). Retries once on a stale connection."""
        for attempt in (1, 2):
            if self._protocol is None or self._protocol.closed:
                if self._protocol is not None:
                    self.reconnects += 1
                self._protocol = await self._connect()
            try:
                return await self._protocol.send(data)
            except ConnectionClosed:
                self._protocol = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()


def post(path: str, host: str, body: bytes, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def get(path: str, host: str, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n".encode()
