"""A poison event: valid on its record topic, refused by one consumer, dead-lettered there while the others
apply it and the consumer carries on; after the fix, `exchange dlq redrive` applies it exactly once.

The poison is real, not injected: grading's `records` table gets a constraint stricter than the reporting
catalogue (record ids of at most 48 characters, where the catalogue allows 64) — the kind of mistake a
migration makes. A department then reports a record with a 60-character id: ingest accepts it, sanctions
and publish apply it, grading's insert violates the constraint (SQLSTATE 23514) and the event is
dead-lettered. The fix is the corrected migration (the constraint dropped). The CLI runs as the operator
runs it, as a process.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.stack import REPO_ROOT, Stack
from services.audit.commands import public_key, verify_receipts
from services.common.db import create_engine
from services.common.kafka import make_admin
from services.common.settings import CommonSettings
from tests import factories
from tests.helpers import eventually, find_on_topic, header

CONSTRAINT = "records_record_id_length"  # the faulty migration's constraint


@pytest.fixture
async def engine(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(stack.database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def exchange_cli(stack: Stack, *args: str) -> tuple[int, str]:
    """Run `exchange <args>` as the operator does (a process, configured by the environment)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        *args,
        env={**os.environ, **stack.env()},
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=90)
    return int(process.returncode or 0), out.decode()


async def inbox_status(engine: AsyncEngine, schema: str, event_id: str) -> tuple[str, datetime] | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(f"SELECT status, processed_at FROM {schema}.inbox WHERE event_id = :id"), {"id": event_id}
            )
        ).first()
    return None if row is None else (row.status, row.processed_at)


async def status_is(engine: AsyncEngine, schema: str, event_id: str, wanted: str) -> bool:
    found = await inbox_status(engine, schema, event_id)
    return found is not None and found[0] == wanted


async def grading_rows(engine: AsyncEngine, record_id: str) -> int:
    async with engine.connect() as conn:
        count = await conn.execute(
            text("SELECT count(*) FROM grading.records WHERE department = 'AMR' AND record_id = :r"), {"r": record_id}
        )
        return int(count.scalar_one())


async def end_offsets(stack: Stack, topics: list[str]) -> dict[TopicPartition, int]:
    admin = make_admin(stack.bootstrap)
    await admin.start()
    try:
        descriptions = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [TopicPartition(d["topic"], p["partition"]) for d in descriptions for p in d["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        offsets: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return offsets
    finally:
        await consumer.stop()


async def committed_offsets(stack: Stack, group: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    admin = make_admin(stack.bootstrap)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in found.items()}


async def consumed_from(stack: Stack, topic: str) -> tuple[float, float]:
    """(applied, dropped as duplicates) by grading from `topic`, from its Prometheus metrics."""
    async with httpx.AsyncClient() as client:
        body = (await client.get(stack.service_url("grading") + "/metrics")).text

    def value(metric: str) -> float:
        pattern = rf'^{metric}\{{group="[^"]*grading",topic="{re.escape(topic)}"\}} (\S+)$'
        found = re.search(pattern, body, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    return value("exchange_consumed_total"), value("exchange_duplicates_total")


async def post(stack: Stack, tokens: dict[str, str], record: dict[str, object]) -> int:
    async with httpx.AsyncClient(base_url=stack.service_url("ingest"), timeout=30) as client:
        response = await client.post(
            "/v1/records", json=record, headers={"Authorization": f"Bearer {tokens['TOKEN_AMR']}"}
        )
    return response.status_code


async def test_poison_event_is_dead_lettered_the_consumer_carries_on_and_a_redrive_after_the_fix_applies_it_once(
    services_up: Stack, tokens: dict[str, str], engine: AsyncEngine, stack_env: dict[str, str]
) -> None:
    stack = services_up
    prefix = stack.config.topic_prefix
    person, name = factories.citizen_id(), "李四海"
    poison = factories.penalty(code=person, name=name, kind="natural_person")
    poison["id"] = f"AMR-LONGID-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}"  # 60 characters: valid (≤ 64)
    event_id = f"AMR/{poison['id']}"
    assert len(poison["id"]) == 60

    async with engine.begin() as conn:  # the faulty migration
        await conn.execute(
            text(
                f"ALTER TABLE grading.records ADD CONSTRAINT {CONSTRAINT} "
                "CHECK (char_length(record_id) <= 48) NOT VALID"
            )
        )
    try:
        assert await post(stack, tokens, poison) == 202

        # grading refuses it and parks it; sanctions and publish apply it
        await eventually(
            lambda: status_is(engine, "grading", event_id, "dead_lettered"), timeout=60, what="grading to dead-letter"
        )

        async def others_applied() -> bool:
            return all([await status_is(engine, s, event_id, "applied") for s in ("sanctions", "publish")])

        await eventually(others_applied, what="sanctions and publish to apply it")
        original = await find_on_topic(
            stack.bootstrap, prefix + "records.acts", lambda m: header(m, "ce_id") == event_id
        )
        parked = await find_on_topic(
            stack.bootstrap,
            prefix + "records.acts.dlq",
            lambda m: header(m, "ce_id") == event_id and header(m, "x-dlq-service") == "grading",
        )
        # what an operator needs: the original message, the error, where it came from
        assert (parked.key, parked.value) == (original.key, original.value)
        assert [h for h in parked.headers if not h[0].startswith("x-dlq-")] == list(original.headers)
        assert header(parked, "x-dlq-topic") == original.topic
        assert (header(parked, "x-dlq-partition"), header(parked, "x-dlq-offset")) == (
            str(original.partition),
            str(original.offset),
        )
        assert header(parked, "x-dlq-group") == prefix + "grading"
        assert header(parked, "x-dlq-event-id") == event_id
        assert header(parked, "x-dlq-attempt") == "1"
        assert header(parked, "x-dlq-error") == "CheckViolationError"
        reason = header(parked, "x-dlq-reason") or ""
        assert "SQLSTATE 23514" in reason
        assert CONSTRAINT in reason
        assert person not in reason  # no personal data in the error text
        assert name not in reason

        # the consumer carries on: a later record is applied by grading
        later = factories.penalty()
        assert await post(stack, tokens, later) == 202
        await eventually(lambda: grading_rows(engine, later["id"]), what="grading to apply the later record")

        # the operator's view: ids, types, departments, errors; no personal data
        code, listing = await exchange_cli(stack, "dlq", "list", "--service", "grading", "--topic", "records.acts")
        assert code == 0, listing
        (line,) = [row for row in listing.splitlines() if event_id in row]
        assert line.split("\t")[:3] == ["grading", "dead_lettered", "1"]
        assert "cn.credit.record.administrative_penalty" in line
        assert "\tAMR\t" in line
        assert CONSTRAINT in line
        assert person not in listing
        assert name not in listing

        # re-driven before the fix: refused again, back in the dead-letter topic, attempt 2, nothing applied
        code, out = await exchange_cli(
            stack, "dlq", "redrive", "--service", "grading", "--event-id", event_id, "--wait", "60"
        )
        assert code == 1, out
        assert "1 dead-lettered again" in out, out
        await find_on_topic(
            stack.bootstrap,
            prefix + "records.acts.dlq",
            lambda m: header(m, "ce_id") == event_id and header(m, "x-dlq-attempt") == "2",
        )
        assert await grading_rows(engine, poison["id"]) == 0
    finally:
        async with engine.begin() as conn:  # the fix: the corrected migration
            await conn.execute(text(f"ALTER TABLE grading.records DROP CONSTRAINT IF EXISTS {CONSTRAINT}"))

    record_topics = [prefix + name for name in ("records.acts", "records.lists", "records.subjects")]
    redrive_topic = prefix + "redrive.grading"
    before = await end_offsets(stack, record_topics)
    others_before = {s: await inbox_status(engine, s, event_id) for s in ("sanctions", "publish")}

    code, out = await exchange_cli(
        stack, "dlq", "redrive", "--service", "grading", "--event-id", event_id, "--wait", "60"
    )
    assert code == 0, out
    assert f"re-driven\t{event_id}\tapplied" in out, out
    assert await grading_rows(engine, poison["id"]) == 1
    assert await status_is(engine, "grading", event_id, "applied")

    # a second re-drive changes nothing: not sent again, nothing applied again
    redrive_before = await end_offsets(stack, [redrive_topic])
    code, out = await exchange_cli(stack, "dlq", "redrive", "--service", "grading", "--event-id", event_id)
    assert code == 0, out
    assert f"already applied, not sent again\t{event_id}" in out, out
    assert await end_offsets(stack, [redrive_topic]) == redrive_before
    assert await grading_rows(engine, poison["id"]) == 1
    # the re-driven copy was consumed by grading's group (whichever of its processes holds the partition)
    ends = await end_offsets(stack, [redrive_topic])

    async def group_caught_up() -> bool:
        return await committed_offsets(stack, f"{prefix}grading", list(ends)) == ends

    await eventually(group_caught_up, what="grading's group to commit past the re-driven copy")
    _, duplicates = await consumed_from(stack, redrive_topic)

    # the record topics were not written (no copy for the auditor to question, nothing for the other
    # consumers), and sanctions and publish were not touched
    assert await end_offsets(stack, record_topics) == before
    assert {s: await inbox_status(engine, s, event_id) for s in ("sanctions", "publish")} == others_before
    report = await verify_receipts(CommonSettings(), department="AMR", key=public_key(None))
    where = f"{original.topic}:{original.partition}:{original.offset}"
    assert not [f for f in report.findings if poison["id"] in f.problem or f.where == where], [
        f.line() for f in report.findings
    ]
    print(f"\n  poison dead-lettered, refused again before the fix, applied once after it ({duplicates:g} duplicates)")
