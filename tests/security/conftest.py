"""The services in-process (real PostgreSQL and Kafka of the test stack, the session's clock), the
callers of the authorization matrix, and the same apps served on a real loopback port by uvicorn for
the tools that speak HTTP over a socket (schemathesis, slow clients, X-Forwarded-For).

Package-scoped like the portal's fixture: these consumers and tickers stop when this package is done.
The publish app is configured with *small* public rate limits; they bind only addresses outside
loopback (the default exemption), which the rate-limit tests use and no other test does.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from services.common.clock import FixedClock
from tests.helpers import eventually, served_in_process

# Public rate limits of this package's publish app (per non-loopback address): small, so a test reaches
# them in a handful of requests, and refilled slowly, so a test's budget does not grow while it runs.
READ_BURST = 5
WRITE_BURST = 2
PER_MINUTE = 1.0

DEPARTMENTS = ("AMR", "TAX", "COURT", "HOUSING", "DRC")
GARBAGE_TOKEN = "cx_0123456789ab_this-is-not-a-secret-anyone-was-given"


@pytest.fixture(scope="package")
async def grading(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    from services.grading.app import create_app
    from services.grading.settings import GradingSettings

    async with served_in_process(create_app(GradingSettings(tick_seconds=0.2), clock=clock), "grading") as client:
        yield client


@pytest.fixture(scope="package")
async def sanctions(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    from services.sanctions.app import create_app
    from services.sanctions.settings import SanctionsSettings

    async with served_in_process(create_app(SanctionsSettings(tick_seconds=0.2), clock=clock), "sanctions") as client:
        yield client


@pytest.fixture(scope="package")
async def publish(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    from services.publish.app import create_app
    from services.publish.settings import PublishSettings

    settings = PublishSettings(
        tick_seconds=0.2,
        public_read_per_minute=PER_MINUTE,
        public_read_burst=READ_BURST,
        public_write_per_minute=PER_MINUTE,
        public_write_burst=WRITE_BURST,
    )
    async with served_in_process(create_app(settings, clock=clock), "publish") as client:
        yield client


@pytest.fixture(scope="package")
async def reports(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    from services.reports.app import create_app
    from services.reports.settings import ReportsSettings

    async with served_in_process(create_app(ReportsSettings(), clock=clock), "reports") as client:
        yield client


@pytest.fixture(scope="package")
async def bridge(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """The bridge with nothing configured downstream (no province, ingest or publish): the matrix's requests
    stop at the role check or at validation; a feed long-poll is held at most a second."""
    from services.bridge.app import create_app
    from services.bridge.settings import BridgeSettings

    settings = BridgeSettings(feed_max_wait_seconds=1.0, idle_seconds=0.2)
    async with served_in_process(create_app(settings, clock=clock), "bridge") as client:
        yield client


@pytest.fixture(scope="package")
async def apps(
    ingest: httpx.AsyncClient,
    grading: httpx.AsyncClient,
    sanctions: httpx.AsyncClient,
    publish: httpx.AsyncClient,
    reports: httpx.AsyncClient,
    bridge: httpx.AsyncClient,
) -> dict[str, httpx.AsyncClient]:
    """Service name → its in-process client (``client.app`` is the running app)."""
    return {
        "ingest": ingest,
        "grading": grading,
        "sanctions": sanctions,
        "publish": publish,
        "reports": reports,
        "bridge": bridge,
    }


@pytest.fixture(scope="package")
async def revoked_token(ingest: httpx.AsyncClient) -> str:
    """A department token that worked once and was then revoked (never used before it was, so no
    service has it in its 5-second lookup cache)."""
    from services.common.auth import Role, issue, register_department, revoke

    engine = ingest.app.state.engine  # type: ignore[attr-defined]
    await register_department(engine, "AMR", "市场监管局")
    issued = await issue(engine, role=Role.DEPARTMENT, name="市场监管局 (revoked in tests)", department="AMR")
    assert await revoke(engine, issued.credential_id)
    return issued.token


@pytest.fixture(scope="package")
def actors(tokens: dict[str, str], revoked_token: str) -> dict[str, dict[str, str]]:
    """Every kind of caller → the headers it sends."""
    callers = {dept: _bearer(tokens[f"TOKEN_{dept}"]) for dept in DEPARTMENTS}
    callers |= {
        "county": _bearer(tokens["TOKEN_COUNTY"]),
        "auditor": _bearer(tokens["TOKEN_AUDITOR"]),
        # The workbench credential without the headers naming whom it acts for (issue 17): its own role only.
        "workbench": _bearer(tokens["TOKEN_WORKBENCH"]),
        "public": {},
        "revoked": _bearer(revoked_token),
        "garbage": _bearer(GARBAGE_TOKEN),
    }
    return callers


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def served_on_port(app: FastAPI, **config: object) -> AsyncIterator[str]:
    """Serve an app whose lifespan already runs (``served_in_process``) with uvicorn on a loopback port,
    in this event loop; yields its base URL. Clients must run in another thread (or be async)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options: dict[str, object] = {"lifespan": "off", "log_config": None, "access_log": False} | config
    server = uvicorn.Server(uvicorn.Config(app, timeout_graceful_shutdown=5, **options))  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def started() -> bool:
        if task.done():
            task.result()  # raises what stopped it
        return server.started

    try:
        await eventually(started, timeout=10, what="uvicorn to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture(scope="package")
async def urls(apps: dict[str, httpx.AsyncClient]) -> AsyncIterator[dict[str, str]]:
    """Service name → base URL of the in-process app served on a real loopback socket."""
    async with contextlib.AsyncExitStack() as stack:
        found = {name: await stack.enter_async_context(served_on_port(c.app)) for name, c in apps.items()}  # type: ignore[attr-defined]
        yield found
