"""The bridge in-process (real PostgreSQL and Kafka of the test stack), webhook receivers and the reference
province receiver as real HTTP servers on loopback, and outcome events produced onto the outcome topics as
the producing services would."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from deploy.processes import free_port
from deploy.stack import Stack
from services.bridge.reference_province import ProvinceState
from services.bridge.reference_province import create_app as province_app
from services.common.clock import FixedClock
from services.common.envelope import CloudEvent
from services.common.outcomes import outcome_event
from tests.helpers import served_in_process


@dataclass
class MovableClock:
    """Real time plus an offset a test moves (a province down for a day, a subscriber failing for 24 h)."""

    offset: timedelta = field(default_factory=timedelta)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@contextlib.asynccontextmanager
async def on_loopback(app: FastAPI, *, ssl_files: tuple[str, str] | None = None) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port (a real HTTP server); yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ssl_certfile=ssl_files[0] if ssl_files else None,
        ssl_keyfile=ssl_files[1] if ssl_files else None,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    try:
        yield f"{'https' if ssl_files else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
def bridge_clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="session")
def province_state() -> ProvinceState:
    return ProvinceState(token="province-test-token")


@pytest.fixture(scope="session")
async def province_url(province_state: ProvinceState) -> AsyncIterator[str]:
    async with on_loopback(province_app(province_state)) as url:
        yield url


NATIONAL_DEPARTMENTS = ("COURT", "TAX", "AMR", "DRC")


@pytest.fixture(scope="session")
async def national_tokens(stack: Stack, tokens: dict[str, str]) -> dict[str, str]:
    """The national-list channel's credentials: one department token per receiving department, issued
    under the `national:` name (the only credentials whose records may carry `source`)."""
    from services.common.auth import Role, issue
    from services.common.db import create_engine

    engine = create_engine(stack.database_url, pool_size=1)
    try:
        return {
            d: (await issue(engine, role=Role.DEPARTMENT, name=f"national:{d}", department=d)).token
            for d in NATIONAL_DEPARTMENTS
        }
    finally:
        await engine.dispose()


@pytest.fixture(scope="package")
async def ingest_url(ingest: httpx.AsyncClient) -> AsyncIterator[str]:
    """The session's in-process ingest (root conftest) also served on loopback: the bridge posts to it."""
    async with on_loopback(ingest.app) as url:  # type: ignore[attr-defined]
        yield url


@pytest.fixture(scope="package")
async def publish(stack_env: dict[str, str], clock: FixedClock) -> AsyncIterator[httpx.AsyncClient]:
    """Publish in-process on the session clock, also served on loopback (the bridge files repairs there).
    Package-scoped, like every in-process consumer here: it stops when the bridge's tests are done."""
    from services.publish.app import create_app
    from services.publish.settings import PublishSettings

    app = create_app(PublishSettings(tick_seconds=0.2), clock=clock)
    async with served_in_process(app, "publish") as client:
        yield client


@dataclass
class PublishGate:
    """Publish as the bridge reaches it: a real HTTP server on loopback that passes each request to
    publish and, when a test sets `hold`, awaits it with publish's answer before answering the bridge (what
    happens meanwhile happens before the bridge has written anything about that answer)."""

    publish: httpx.AsyncClient
    hold: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    def app(self) -> Starlette:
        async def forward(request: Request) -> Response:
            passed = {k: v for k, v in request.headers.items() if k in ("authorization", "content-type")}
            answer = await self.publish.request(
                request.method, request.url.path, content=await request.body(), headers=passed
            )
            if self.hold is not None and answer.status_code == 201:
                await self.hold(answer.json())
            return Response(answer.content, answer.status_code, media_type=answer.headers.get("content-type"))

        return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])


@pytest.fixture(scope="package")
def publish_gate(publish: httpx.AsyncClient) -> PublishGate:
    return PublishGate(publish)


@pytest.fixture(scope="package")
async def publish_url(publish_gate: PublishGate) -> AsyncIterator[str]:
    async with on_loopback(publish_gate.app()) as url:
        yield url


@pytest.fixture(scope="package")
async def bridge(
    stack_env: dict[str, str],
    bridge_clock: MovableClock,
    tokens: dict[str, str],
    province_url: str,
    ingest_url: str,
    national_tokens: dict[str, str],
    publish_url: str,
) -> AsyncIterator[httpx.AsyncClient]:
    from services.bridge.app import create_app
    from services.bridge.settings import BridgeSettings

    settings = BridgeSettings(
        webhook_allow_http=True,
        webhook_timeout_seconds=1.0,
        webhook_retry_base_seconds=0.02,
        webhook_retry_cap_seconds=0.2,
        idle_seconds=0.1,
        province_url=province_url,
        province_token="province-test-token",
        province_retry_base_seconds=0.05,
        province_retry_cap_seconds=0.3,
        backlog_sample_seconds=0.1,
        ingest_url=ingest_url,
        national_tokens={d: SecretStr(t) for d, t in national_tokens.items()},
        publish_url=publish_url,
        publish_token=SecretStr(tokens["TOKEN_COUNTY"]),
    )
    app = create_app(settings, clock=bridge_clock)
    async with served_in_process(app, "bridge") as client:
        yield client


@pytest.fixture(scope="session")
async def producer(stack: Stack) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all", enable_idempotence=True)
    await p.start()
    yield p
    await p.stop()


class Outcomes:
    """Puts outcome events on their topics, as grading, sanctions and publish do (key: the subject)."""

    def __init__(self, producer: AIOKafkaProducer, prefix: str) -> None:
        self.producer = producer
        self.prefix = prefix

    async def send(self, topic: str, events: list[CloudEvent]) -> None:
        for e in events:
            await self.producer.send_and_wait(
                self.prefix + topic, e.kafka_value(), key=e.kafka_key(), headers=e.kafka_headers()
            )


@pytest.fixture(scope="session")
def outcomes(producer: AIOKafkaProducer, stack_env: dict[str, str]) -> Outcomes:
    return Outcomes(producer, stack_env["EXCHANGE_TOPIC_PREFIX"])


def disclosure(
    subject: str, kind: str = "published", department: str = "AMR", record_id: str | None = None
) -> CloudEvent:
    rid = record_id or f"r-{uuid.uuid4().hex[:10]}"
    data: dict[str, Any] = {
        "event": kind,
        "public_id": f"{department}.{rid}",
        "record_id": rid,
        "department": department,
        "record_type": "administrative_penalty",
        "subject": {"kind": "法人及非法人组织", "name": "测试公司", "code": subject},
        "decision_date": "2026-11-18",
        "version": 1,
        "reason": "撤销" if kind == "withdrawn" else None,
        "content": None if kind == "withdrawn" else {"CF_WSH": f"罚字{rid}", "CF_XDR_MC": "测试公司", "CF_FKJE": 1.0},
    }
    return outcome_event(
        service="publish",
        kind=f"disclosure.{kind}",
        subject=subject,
        event_id=f"publish:{department}.{rid}:{kind}:{uuid.uuid4().hex[:6]}",
        time=datetime.now(UTC),
        data=data,
    )


def subject_code() -> str:
    return "91500101" + uuid.uuid4().hex[:10].upper()


def bearer(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens['TOKEN_' + who]}"}
