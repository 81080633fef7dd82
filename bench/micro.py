"""In-process micro-measurements behind issue 19's choices, alternated in the same process so that a busy
machine slows both sides alike: CPU µs per call (`time.process_time`).

    .venv/bin/python -m bench.micro

- `route`: one POST through FastAPI's route (APIRoute: dependency solving, response handling) against the
  same endpoint as a plain Starlette route in front of it (how ingest served its POSTs until issue 19's
  front);
- `stack`: the same POST through ingest's middleware (request metrics and request log, exception handlers)
  to a plain route, against ingest's front (`services/ingest/front.py`: `HotPosts` answers it before the
  request middleware and the router, doing the request id, metrics and log line itself), the log written
  to /dev/null;
- `schema`: a valid bench record's data checked against its catalogue schema by walking for errors
  (`iter_errors`) against asking `is_valid` first (what validation.py does now); `nul`: the walk of every
  value for U+0000 against one look for the escape in the record's JSON;
- `sign`: an Ed25519 signature of a receipt-sized payload through cryptography (OpenSSL) against PyNaCl
  (libsodium), the signature bytes checked equal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import nacl.signing
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.routing import Route

from services.common import logs
from services.common.http import install_error_handlers
from services.common.metrics import RequestMetrics
from services.ingest.front import HotPosts


async def _endpoint(request: Request) -> Response:
    return Response(b'{"receipt":{}}', status_code=202, media_type="application/json")


def _app(plain: bool, middleware: str = "") -> FastAPI:
    app = FastAPI()
    app.post("/v1/records")(_endpoint)
    for i in range(8):  # a few other routes, as ingest has
        app.get(f"/v1/other{i}")(_endpoint)
    if plain:
        app.router.routes[0:0] = [Route("/v1/records", _endpoint, methods=["POST"])]
    if middleware:
        install_error_handlers(app)
        app.add_middleware(RequestMetrics, service="micro")
    if middleware == "front":
        app.add_middleware(HotPosts, service="micro", endpoints={"/v1/records": _endpoint})
    return app


async def _route_us(app: FastAPI, n: int) -> float:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/records",
        "raw_path": b"/v1/records",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Any) -> None:
        return None

    for _ in range(200):
        await app(dict(scope), receive, send)
    started = time.process_time()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return (time.process_time() - started) / n * 1e6


def _per_call_us(call: Callable[[], object], n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - started) / n * 1e6


async def main(rounds: int = 3) -> None:
    apps = {
        "fastapi_route": _app(False),
        "plain_route": _app(True),
        "stack_plain_route": _app(True, "stack"),
        "stack_front": _app(True, "front"),
    }
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    sodium = nacl.signing.SigningKey(raw)
    payload = b"x" * 600
    assert sodium.sign(payload).signature == key.sign(payload)
    from bench.records import RecordMix
    from services.common.catalogue import load_catalogue
    from services.ingest.settings import IngestSettings
    from services.ingest.validation import RecordValidator, _find_nul

    schemas = IngestSettings().schemas_dir
    validator = RecordValidator(load_catalogue(schemas), schemas)
    mix = RecordMix(seed=1, tag="micro")
    records = [orjson.loads(item.body) for item in (mix.next() for _ in range(400)) if item.expect == "new"]
    data_schema = validator._data[(records[0]["type"], records[0]["version"])]

    def walk() -> None:
        for record in records:
            _find_nul(record, [], [], "")

    def look() -> None:
        for record in records:
            _ = b"\\u0000" in orjson.dumps(record)

    for _ in range(rounds):
        figures = {name: await _route_us(app, 5000) for name, app in apps.items()}
        figures["schema_iter_errors"] = _per_call_us(
            lambda: [list(data_schema.iter_errors(r["data"])) for r in records], 20
        ) / len(records)
        figures["schema_is_valid"] = _per_call_us(lambda: [data_schema.is_valid(r["data"]) for r in records], 20) / len(
            records
        )
        figures["nul_walk"] = _per_call_us(walk, 20) / len(records)
        figures["nul_look"] = _per_call_us(look, 20) / len(records)
        figures["sign_cryptography"] = _per_call_us(lambda: key.sign(payload), 3000)
        figures["sign_pynacl"] = _per_call_us(lambda: sodium.sign(payload), 3000)
        print("  ".join(f"{name} {value:.1f} µs" for name, value in figures.items()), flush=True)


if __name__ == "__main__":
    logs.configure("micro")
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # type: ignore[attr-defined]  # noqa: SIM115
    asyncio.run(main())
