"""A reference receiver of the provincial platform: speaks the wire format of docs/bridge-wire-format.md
(the test double the bridge's tests run as a real HTTP server; `python -m services.bridge.reference_province`
serves it for a local trial).

It keeps what it accepted by record id (a repeat is acknowledged again, never stored twice), refuses a
record whose department USCC or action it cannot read, and can be told to be down (503) for outage drills.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ACTIONS = frozenset({"I", "U", "D", "R"})  # R: the answer on a repair application 信用中国 forwarded


class ProvinceState:
    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.down = False
        self.accepted: dict[str, dict[str, Any]] = {}
        self.requests = 0


def create_app(state: ProvinceState | None = None) -> FastAPI:
    app = FastAPI(title="reference province receiver")
    the_state = state or ProvinceState(os.environ.get("PROVINCE_TOKEN"))
    app.state.province = the_state

    @app.post("/v1/records")
    async def receive(request: Request) -> JSONResponse:
        the_state.requests += 1
        if the_state.down:
            return JSONResponse({"error": "unavailable"}, status_code=503)
        if the_state.token and request.headers.get("authorization") != f"Bearer {the_state.token}":
            return JSONResponse({"error": "unauthenticated"}, status_code=401)
        body = await request.json()
        results = []
        for record in body.get("records", []):
            rid = str(record.get("id", ""))
            problem = None
            if record.get("action") not in ACTIONS:
                problem = "unknown action"
            elif len(str(record.get("department_uscc", ""))) != 18:
                problem = "department_uscc is not an 18-character USCC"
            elif record.get("action") == "R" and not record.get("reference"):
                problem = "a repair answer names no 信用中国 reference"
            if problem:
                results.append({"id": rid, "status": "refused", "reason": problem})
                continue
            the_state.accepted.setdefault(rid, record)
            results.append({"id": rid, "status": "accepted"})
        return JSONResponse({"results": results})

    @app.get("/v1/records/count")
    async def count() -> JSONResponse:
        return JSONResponse({"accepted": len(the_state.accepted)})

    return app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_app(), host="127.0.0.1", port=int(os.environ.get("PROVINCE_PORT", "8090")))
