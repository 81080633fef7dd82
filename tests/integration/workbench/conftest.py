"""The workbench in-process, speaking over HTTP semantics to ingest, publish, sanctions and supervision in-process (real
PostgreSQL and Kafka of the test stack, the session's clock). Package-scoped, like the portal's."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from services.common.clock import FixedClock
from tests.helpers import eventually, served_in_process
from tests.integration.workbench.support import PASSWORD, add_staff


@pytest.fixture(scope="package")
async def publish(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    from services.publish.app import create_app
    from services.publish.settings import PublishSettings

    app = create_app(PublishSettings(tick_seconds=0.2), clock=clock)
    async with served_in_process(app, "publish") as client:
        yield client


@pytest.fixture(scope="package")
async def sanctions(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    from services.sanctions.app import create_app
    from services.sanctions.settings import SanctionsSettings

    app = create_app(SanctionsSettings(tick_seconds=0.2), clock=clock)
    async with served_in_process(app, "sanctions") as client:
        yield client


@pytest.fixture(scope="package")
async def supervision(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    from services.supervision.app import create_app
    from services.supervision.settings import SupervisionSettings

    app = create_app(SupervisionSettings(), clock=clock)
    async with served_in_process(app, "supervision") as client:
        yield client


@pytest.fixture(scope="package")
async def workbench(
    stack_env: dict[str, str],
    clock: FixedClock,
    tokens: dict[str, str],
    ingest: httpx.AsyncClient,
    publish: httpx.AsyncClient,
    sanctions: httpx.AsyncClient,
    supervision: httpx.AsyncClient,
) -> AsyncIterator[httpx.AsyncClient]:
    from services.workbench.app import create_app
    from services.workbench.settings import WorkbenchSettings

    settings = WorkbenchSettings(token=tokens["TOKEN_WORKBENCH"], max_upload_bytes=5 * 1024 * 1024)
    clients = {
        "ingest": ingest,
        "publish": publish,
        "sanctions": sanctions,
        "grading": ingest,
        "supervision": supervision,
    }
    app = create_app(settings, clock=clock, clients=clients)
    async with served_in_process(app, "workbench") as client:
        await add_staff(client)
        yield client


async def serve_over_http(app: FastAPI) -> AsyncIterator[str]:
    """An already started in-process app served over real HTTP on a free loopback port, in this loop."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started, timeout=10, what="the HTTP server")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def workbench_url(workbench: httpx.AsyncClient) -> AsyncIterator[str]:
    async for url in serve_over_http(workbench.app):  # type: ignore[attr-defined]
        yield url


@pytest.fixture
async def ingest_url(ingest: httpx.AsyncClient) -> AsyncIterator[str]:
    async for url in serve_over_http(ingest.app):  # type: ignore[attr-defined]
        yield url


__all__ = ["PASSWORD"]
