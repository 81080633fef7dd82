"""The stack as `make up` runs it: four service processes, real HTTP, real Kafka and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from sqlalchemy import text

from deploy.processes import free_port
from deploy.stack import SERVICES, Stack
from services.common.db import create_engine
from tests import factories
from tests.conftest import REPO
from tests.helpers import eventually


async def test_every_service_is_ready(services_running: Stack) -> None:
    async with httpx.AsyncClient() as client:
        for service in SERVICES:
            base = services_running.service_url(service)
            assert (await client.get(base + "/healthz")).status_code == 200
            ready = await client.get(base + "/readyz")
            assert ready.status_code == 200, ready.text
            metrics = await client.get(base + "/metrics")
            assert "exchange_http_requests_total" in metrics.text


async def test_a_reported_record_arrives_in_every_consumers_inbox(
    services_running: Stack, tokens: dict[str, str]
) -> None:
    record = factories.penalty()
    async with httpx.AsyncClient(base_url=services_running.service_url("ingest")) as client:
        response = await client.post(
            "/v1/records", json=record, headers={"Authorization": f"Bearer {tokens['TOKEN_AMR']}"}
        )
    assert response.status_code == 202, response.text
    event_id = f"AMR/{record['id']}"
    engine = create_engine(services_running.database_url, pool_size=1)
    try:
        for schema in ("grading", "sanctions", "publish"):

            async def arrived(schema: str = schema) -> bool:
                async with engine.connect() as conn:
                    row = await conn.execute(
                        text(f"SELECT status FROM {schema}.inbox WHERE event_id = :id"), {"id": event_id}
                    )
                    return row.scalar_one_or_none() == "applied"

            await eventually(arrived, timeout=30, what=f"{event_id} in {schema}.inbox")
            async with engine.connect() as conn:
                stored = await conn.execute(
                    text(f"SELECT record FROM {schema}.records WHERE department = 'AMR' AND record_id = :id"),
                    {"id": record["id"]},
                )
                assert stored.scalar_one() == record
    finally:
        await engine.dispose()


def _run_service(service: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unreachable_database_is_one_clear_line_not_a_traceback() -> None:
    port = free_port()
    result = _run_service(
        "grading",
        {"DATABASE_URL": f"postgresql://exchange:x@127.0.0.1:{port}/exchange", "GRADING_PORT": str(free_port())},
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "unreachable" in lines[0]
    assert str(port) in lines[0]
    assert "Traceback" not in result.stderr


def test_occupied_port_is_one_clear_line(services_running: Stack) -> None:
    taken = services_running.config.service_ports["publish"]
    result = _run_service("publish", {**services_running.env(), "PUBLISH_PORT": str(taken)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {taken}" in lines[0]
