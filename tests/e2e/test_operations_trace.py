"""Issue 21, operations, on the stack as `make up` runs it: one request id followed from the POST to every
consumer's log; the HTTP request log carries no body; the auditor's receipt check needs no private key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import httpx
import orjson
from sqlalchemy import text

from deploy.stack import Stack
from services.common.db import create_engine
from tests import factories
from tests.conftest import REPO
from tests.helpers import eventually


def _log_lines(stack: Stack, service: str) -> list[dict[str, object]]:
    lines = []
    for raw in stack.service_log(service).read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


async def test_a_request_id_follows_one_record_from_post_to_every_consumer(
    services_running: Stack, tokens: dict[str, str]
) -> None:
    record = factories.penalty()
    rid = f"trace-{uuid.uuid4().hex[:12]}"
    async with httpx.AsyncClient(base_url=services_running.service_url("ingest")) as client:
        response = await client.post(
            "/v1/records",
            json=record,
            headers={"Authorization": f"Bearer {tokens['TOKEN_AMR']}", "X-Request-ID": rid},
        )
        assert response.status_code == 202, response.text
        assert response.headers["x-request-id"] == rid
        fresh = await client.get("/v1/catalogue", headers={"X-Request-ID": "bad id with spaces"})
        assert fresh.headers["x-request-id"] != "bad id with spaces"  # replaced, never logged as given
    event_id = f"AMR/{record['id']}"
    engine = create_engine(services_running.database_url, pool_size=1)
    try:

        async def everywhere() -> bool:
            async with engine.connect() as conn:
                for schema in ("grading", "sanctions", "publish"):
                    row = await conn.execute(
                        text(f"SELECT 1 FROM {schema}.inbox WHERE event_id = :id"), {"id": event_id}
                    )
                    if row.first() is None:
                        return False
            return True

        await eventually(everywhere, timeout=60, what=f"{event_id} in every inbox")
    finally:
        await engine.dispose()

    (posted,) = [line for line in _log_lines(services_running, "ingest") if line.get("request_id") == rid]
    assert posted["message"] == "http request"
    assert posted["route"] == "/v1/records"
    assert posted["method"] == "POST"
    assert posted["status"] == 202
    assert posted["credential"] == tokens["TOKEN_AMR"].split("_")[1]
    assert isinstance(posted["duration_ms"], float)
    raw_ingest_log = services_running.service_log("ingest").read_text()
    assert record["subject"]["name"] not in raw_ingest_log

    for service in ("grading", "sanctions", "publish"):

        async def logged(service: str = service) -> bool:
            # One `events applied` line per poll names each event with the request id that caused it.
            return any(
                (event_id, rid) in zip(line.get("event_ids", ()), line.get("request_ids", ()), strict=False)
                for line in _log_lines(services_running, service)
            )

        await eventually(logged, timeout=10, what=f"{service}'s log line for request {rid}")


def test_verify_receipts_as_the_readme_writes_it_needs_no_private_key(services_running: Stack) -> None:
    env = {k: v for k, v in os.environ.items() if k != "INGEST_SIGNING_KEY_FILE"}
    env.update({k: v for k, v in services_running.env().items() if k != "INGEST_SIGNING_KEY_FILE"})
    env["INGEST_URL"] = services_running.service_url("ingest")
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "audit", "verify-receipts", "--department", "AMR", "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    report = orjson.loads(done.stdout)
    assert report["verified"] >= 1, report
    assert not [f for f in report["findings"] if "signature" in f["problem"]], report["findings"]
