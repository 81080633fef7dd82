"""Replay (DOMAIN §5, §10): the record events of the topics, applied in another order to an empty grading
schema, give the grades the live service answers; applying them again changes nothing.

The empty schema is created by the grading migrations in the test database (the database role of the
test cluster may not create databases); it has its own inbox, outbox, records, subjects and grades, and
nothing else reads it.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.clock import SHANGHAI, FixedClock
from services.common.consumer_service import record_topics
from services.common.db import create_engine
from services.common.envelope import CloudEvent
from services.grading import store
from services.grading.handlers import GradingContext, batch_record_handler, load_context, review_handler
from services.grading.replay import migrate_schema, rebuild
from services.grading.settings import GradingSettings
from tests import factories
from tests.helpers import eventually, partitions_of
from tests.integration.grading.support import (
    company,
    correction,
    penalty,
    read_grade,
    registration,
    repair_approval,
    report,
    revocation,
)

AS_OF = date(2026, 11, 20)


def _histories() -> tuple[list[str], list[dict[str, Any]]]:
    """Subjects with corrections, revocations, lists of events and every kind; all decided by AS_OF."""
    busy, shop, quiet, revoked = company(), company("individual_business"), company(), company()
    fined = penalty(busy, "2026-06-01", "罚款", fine=5)
    small = penalty(busy, "2026-09-01", "罚款", fine=1)
    big = penalty(busy, "2026-10-01", "罚款", fine=8)
    suspended = penalty(shop, "2026-08-01", "责令停产停业", kind="individual_business")
    person = factories.penalty(kind="natural_person", name="王某某", decision_date="2026-10-09", fine=1)
    # Issue 15: a never-repairable D with an approved repair; two confiscations in one v1 total.
    licence = penalty(revoked, "2026-07-01", "吊销许可证件")
    both = penalty(quiet, "2026-10-02", "没收违法所得", "没收非法财物")
    both["data"]["CF_NR_WFFF"] = 5
    records = [
        registration(busy, "2026-01-05", industry="热点行业"),
        fined,
        small,
        big,
        penalty(busy, "2026-11-03", "警告", department="TAX"),
        correction(fined, "2026-11-05", CF_NR_FK=2),
        revocation(big, "2026-11-06"),
        registration(busy, "2026-11-07", event="变更", region="重点监管区域"),
        registration(shop, "2026-03-02", kind="individual_business", established="2026-03-02"),
        suspended,
        registration(shop, "2026-08-02", event="停业", kind="individual_business", established="2026-03-02"),
        registration(shop, "2026-09-15", event="恢复营业", kind="individual_business", established="2026-03-02"),
        registration(quiet, "2026-02-01"),
        both,
        person,
        registration(revoked, "2026-01-05"),
        licence,
        repair_approval(licence, "2026-11-18"),
    ]
    return [busy, shop, quiet, person["subject"]["code"], revoked], records


async def _record_events(bootstrap: str, topics: list[str], codes: set[str]) -> list[CloudEvent]:
    """Every record event about `codes` on the record topics, read from offset 0 as an auditor does."""
    partitions = [TopicPartition(t, p) for t in topics for p in await partitions_of(bootstrap, t)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[CloudEvent] = []
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            for tp, messages in (await consumer.getmany(*remaining, timeout_ms=500)).items():
                found += [
                    CloudEvent.from_kafka(list(m.headers), m.value or b"")
                    for m in messages
                    if m.offset < ends[tp] and (m.key or b"").decode() in codes
                ]
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return found
    finally:
        await consumer.stop()


@pytest.fixture
async def engine(stack_env: dict[str, str]) -> AsyncIterator[AsyncEngine]:
    the_engine = create_engine(stack_env["DATABASE_URL"], pool_size=2)
    yield the_engine
    await the_engine.dispose()


@pytest.fixture
async def empty_schemas(stack_env: dict[str, str], engine: AsyncEngine) -> AsyncIterator[list[GradingContext]]:
    """Two empty grading schemas, each with the service's context fixed to AS_OF."""
    names = [f"grading_replay_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    clock = FixedClock(datetime(AS_OF.year, AS_OF.month, AS_OF.day, 12, 0, tzinfo=SHANGHAI))
    for name in names:
        await asyncio.to_thread(migrate_schema, name, stack_env["DATABASE_URL"])
    yield [load_context(GradingSettings(), clock, schema=name) for name in names]
    async with engine.begin() as conn:
        for name in names:
            await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))


@pytest.fixture(scope="module")
async def history(
    ingest: httpx.AsyncClient, tokens: dict[str, str], stack_env: dict[str, str]
) -> tuple[list[str], list[CloudEvent]]:
    """The histories reported through ingest, and their events as they stand on the record topics."""
    codes, records = _histories()
    await report(ingest, tokens, *records)
    topics = record_topics(GradingSettings())

    async def all_on_the_topics() -> list[CloudEvent] | None:
        events = await _record_events(stack_env["KAFKA_BOOTSTRAP"], topics, set(codes))
        unique = list({e.id: e for e in events}.values())  # a relay may re-send; consumers drop repeats
        return unique if len(unique) == len(records) else None

    return codes, await eventually(all_on_the_topics, what="every record of the histories on the record topics")


async def test_replaying_records_in_another_order_into_an_empty_schema_gives_the_same_grades(
    grading: httpx.AsyncClient,
    tokens: dict[str, str],
    engine: AsyncEngine,
    empty_schemas: list[GradingContext],
    history: tuple[list[str], list[CloudEvent]],
) -> None:
    codes, events = history
    reversed_order, shuffled = list(reversed(events)), random.Random(20261120).sample(events, len(events))
    assert reversed_order != shuffled
    for ctx, order in zip(empty_schemas, (reversed_order, shuffled), strict=True):
        assert await rebuild(engine, ctx, order) == len(events)

    rebuilt = [await _grades(engine, ctx.schema, codes) for ctx in empty_schemas]
    assert rebuilt[0] == rebuilt[1]
    assert {g.code: g.grade for g in rebuilt[0]} == dict(zip(codes, ["B", "D", "B", None, "D"], strict=True))

    async def live_has_everything() -> bool:
        async with engine.connect() as conn:
            count = await conn.execute(
                text("SELECT count(*) FROM grading.records WHERE subject_code = ANY(:codes)"), {"codes": codes}
            )
            return count.scalar_one() == len(events)

    await eventually(live_has_everything, what="the live service to consume every record")
    for grade in rebuilt[0]:
        live = (await read_grade(grading, tokens, grade.code, as_of=AS_OF.isoformat())).json()
        assert live["grade"] == grade.grade, grade.code
        assert live["since"] == (grade.since.isoformat() if grade.since else None)
        assert live["next_review"] == (grade.next_review.isoformat() if grade.next_review else None)
        assert (live["supervision_level"], live["reason"]) == (grade.supervision_level, grade.reason)
        assert live["explanation"] == grade.explanation


async def test_replaying_the_same_records_again_changes_nothing(
    engine: AsyncEngine, empty_schemas: list[GradingContext], history: tuple[list[str], list[CloudEvent]]
) -> None:
    codes, events = history
    ctx = empty_schemas[0]
    await rebuild(engine, ctx, events)
    first = (await _grades(engine, ctx.schema, codes), await _count(engine, ctx.schema, "outbox"))
    assert first[1] > 0  # the first pass published the grades

    await rebuild(engine, ctx, random.Random(7).sample(events, len(events)))
    assert (await _grades(engine, ctx.schema, codes), await _count(engine, ctx.schema, "outbox")) == first
    assert await _count(engine, ctx.schema, "records") == len(events)


async def test_a_batch_of_records_has_the_effect_of_handling_them_one_by_one(
    engine: AsyncEngine, empty_schemas: list[GradingContext], history: tuple[list[str], list[CloudEvent]]
) -> None:
    """The live consumer applies a poll's records at once (one read of each subject's file, one write of
    its grade); a subject with several records in the batch still publishes every intermediate change."""
    codes, on_topics = history
    # In the order ingest accepted them (the topics interleave them differently from run to run), so that
    # the busy subject's grade moves the same number of times in every run.
    events = sorted(on_topics, key=lambda e: (e.data["receipt"]["received_at"], e.data["receipt"]["seq"]))
    one_by_one, batched = empty_schemas
    await rebuild(engine, one_by_one, events)
    async with engine.begin() as conn:
        await batch_record_handler(batched)(conn, events + events[:3])  # a repeated record is kept once

    changes = await _outbox(engine, one_by_one.schema)
    busy = codes[0]
    assert len([c for c in changes if c["code"] == busy]) >= 3  # the history moves its grade several times
    assert await _outbox(engine, batched.schema) == changes
    assert await _grades(engine, batched.schema, codes) == await _grades(engine, one_by_one.schema, codes)
    assert await _count(engine, batched.schema, "records") == len(events)


async def _grades(engine: AsyncEngine, schema: str, codes: list[str]) -> list[store.StoredGrade]:
    async with engine.connect() as conn:
        return [g for g in await store.all_grades(conn, schema) if g.code in codes]


async def _count(engine: AsyncEngine, schema: str, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {schema}.{table}"))).scalar_one())


async def test_the_ticker_publishes_every_change_time_brought_each_on_its_own_date(
    engine: AsyncEngine, empty_schemas: list[GradingContext], history: tuple[list[str], list[CloudEvent]]
) -> None:
    (busy, shop, quiet, *_), events = history
    ctx = empty_schemas[0]
    await rebuild(engine, ctx, events)
    tick = review_handler(ctx, engine, after_commit=lambda: None)
    async with engine.begin() as conn:
        await conn.execute(text(f"DELETE FROM {ctx.schema}.outbox"))

    await tick(date(2028, 1, 1))  # the service was down for a year: nothing is lost
    changes = await _outbox(engine, ctx.schema)
    assert [(c["code"], c["old_grade"], c["new_grade"], c["effective_date"]) for c in changes] == [
        (busy, "B", "A", "2027-09-02"),  # one year after the last penalty of the chain (2026-09-01)
        (shop, "D", "A", "2027-09-16"),  # one year after business resumed (2026-09-15)
        (quiet, "B", "A", "2027-10-03"),  # one year after the confiscations (2026-10-02); the revoked D stays
    ]
    await tick(date(2028, 1, 1))
    assert await _outbox(engine, ctx.schema) == changes


async def _outbox(engine: AsyncEngine, schema: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT value FROM {schema}.outbox ORDER BY id"))
        return [orjson.loads(row.value) for row in rows]
