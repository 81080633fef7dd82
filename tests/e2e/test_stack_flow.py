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


async def test_personal_data_never_reaches_the_logs(services_running: Stack, tokens: dict[str, str]) -> None:
    """A natural person's ID number and name, reported, consumed, published and refused, appear in no log."""
    id_number = factories.citizen_id("19750312")
    record = factories.penalty(kind="natural_person", code=id_number, name="欧阳某某")
    invalid = factories.penalty(kind="natural_person", code=id_number, name="欧阳某某")
    del invalid["data"]["CF_WSH"]
    headers = {"Authorization": f"Bearer {tokens['TOKEN_AMR']}"}
    async with httpx.AsyncClient(base_url=services_running.service_url("ingest")) as client:
        assert (await client.post("/v1/records", json=record, headers=headers)).status_code == 202
        assert (await client.post("/v1/records", json=invalid, headers=headers)).status_code == 422
    engine = create_engine(services_running.database_url, pool_size=1)
    try:

        async def consumed_everywhere() -> bool:
            async with engine.connect() as conn:
                for schema in ("grading", "sanctions", "publish"):
                    row = await conn.execute(
                        text(f"SELECT 1 FROM {schema}.inbox WHERE event_id = :id"), {"id": f"AMR/{record['id']}"}
                    )
                    if row.first() is None:
                        return False
            return True

        await eventually(consumed_everywhere, timeout=30, what="the record in every consumer")
    finally:
        await engine.dispose()
    logs = sorted((services_running.config.state_dir / "logs").glob("*.log"))
    assert logs
    for log in logs:
        content = log.read_text(errors="replace")
        assert id_number not in content, f"{log.name} contains an ID number"
        assert "欧阳某某" not in content, f"{log.name} contains a person's name"
