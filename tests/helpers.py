"""Waiting for conditions (never sleeping blindly) and reading topics as a subscriber would."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.clock import SHANGHAI
from services.common.envelope import CloudEvent

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], *, timeout: float = 30.0, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)


async def find_on_topic(
    bootstrap: str, topic: str, predicate: Callable[[ConsumerRecord[bytes, bytes]], bool], *, timeout: float = 30.0
) -> ConsumerRecord[bytes, bytes]:
    """Read `topic` from the beginning (no consumer group) until a message matches."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = await partitions_of(bootstrap, topic)
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            for messages in batches.values():
                for message in messages:
                    if predicate(message):
                        return message
        raise AssertionError(f"no matching message on {topic} within {timeout:.0f}s")
    finally:
        await consumer.stop()


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
        return sorted(p["partition"] for p in description["partitions"])
    finally:
        await admin.close()


def header(message: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in message.headers:
        if key == name:
            return value.decode()
    return None


@contextlib.asynccontextmanager
async def served_in_process(app: FastAPI, name: str) -> AsyncIterator[httpx.AsyncClient]:
    """Run `app`'s lifespan (its consumer, relay and ticker start for real) and talk to it over HTTP
    semantics through an ASGI transport; the client carries the app as `client.app` for tests that need
    its engine."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def record_event(envelope: dict[str, Any], seq: int, department: str = "AMR") -> CloudEvent:
    """The event ingest puts on a record topic for `envelope` (the receipt reduced to what consumers read),
    for handing a consumer's handler events without going through ingest and Kafka."""
    received = datetime(2026, 11, 18, 10, 0, tzinfo=SHANGHAI) + timedelta(seconds=seq)
    receipt = {"department": department, "record_id": envelope["id"], "received_at": received.isoformat(), "seq": seq}
    return CloudEvent(
        id=f"{department}/{envelope['id']}",
        source=f"/departments/{department}",
        type=f"cn.credit.record.{envelope['type']}.v{envelope['version']}",
        subject=envelope["subject"]["code"],
        time=received,
        data={"record": envelope, "receipt": receipt},
    )


async def outcome_of_request(
    ingest: httpx.AsyncClient, token: str, record: dict[str, Any], bootstrap: str, topic: str
) -> ConsumerRecord[bytes, bytes]:
    """POST `record` under a request id of ours and find an outcome about its subject on `topic` carrying
    that id (`ce_requestid`): one record followed from its POST to a consumer's outcome (issue 21)."""
    rid = f"trace-{uuid.uuid4().hex[:12]}"
    response = await ingest.post(
        "/v1/records", json=record, headers={"Authorization": f"Bearer {token}", "X-Request-ID": rid}
    )
    assert response.status_code == 202, response.text
    code = str(record["subject"]["code"]).encode()
    return await find_on_topic(bootstrap, topic, lambda m: m.key == code and header(m, "ce_requestid") == rid)


def scratch_url(database_url: str, name: str) -> str:
    """``database_url`` naming the database ``name`` on the same server."""
    return make_url(database_url).set(database=name).render_as_string(hide_password=False)


async def create_database(engine: AsyncEngine, name: str) -> None:
    """A database of a test's own on the session's PostgreSQL (an auditor's own, a migrated copy)."""
    async with engine.connect() as plain:
        conn = await plain.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))


async def drop_database(engine: AsyncEngine, name: str) -> None:
    async with engine.connect() as plain:
        conn = await plain.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
