"""Real faults under a steady load: the broker killed, PostgreSQL restarted, a consumer killed mid-batch
while a second instance joins its group, ingest killed with requests in flight. Afterwards every record
that got a 202/200 is in every consumer's state exactly once, and nothing else from the load is."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.processes import free_port
from deploy.stack import Stack
from services.common.db import create_engine
from tests.helpers import eventually
from tests.reliability.load import SteadyLoad

CONSUMERS = ("grading", "sanctions", "publish")


@pytest.fixture
async def engine(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(stack.database_url, pool_size=2)
    yield engine
    await engine.dispose()


def _load(stack: Stack, tokens: dict[str, str]) -> SteadyLoad:
    return SteadyLoad(stack.service_url("ingest"), tokens["TOKEN_AMR"], id_prefix=f"AMR-REL-{uuid.uuid4().hex[:6]}-")


async def _consumer_counts(engine: AsyncEngine, prefix: str) -> dict[str, tuple[int, int]]:
    """Per consumer: (records stored, inbox rows applied) for the load's record ids."""
    counts = {}
    async with engine.connect() as conn:
        for schema in CONSUMERS:
            stored = await conn.execute(
                text(f"SELECT count(*) FROM {schema}.records WHERE department = 'AMR' AND record_id LIKE :p"),
                {"p": prefix + "%"},
            )
            applied = await conn.execute(
                text(f"SELECT count(*) FROM {schema}.inbox WHERE event_id LIKE :p AND status = 'applied'"),
                {"p": "AMR/" + prefix + "%"},
            )
            counts[schema] = (stored.scalar_one(), applied.scalar_one())
    return counts


async def assert_exactly_once_everywhere(engine: AsyncEngine, load: SteadyLoad) -> None:
    expected = len(load.result.accepted)
    assert expected > 0

    async def complete() -> dict[str, tuple[int, int]] | None:
        counts = await _consumer_counts(engine, load.id_prefix)
        return counts if all(c == (expected, expected) for c in counts.values()) else None

    await eventually(complete, timeout=180, what=f"all {expected} accepted records in every consumer")
    async with engine.connect() as conn:
        for schema in CONSUMERS:
            ids = await conn.execute(
                text(f"SELECT record_id FROM {schema}.records WHERE department = 'AMR' AND record_id LIKE :p"),
                {"p": load.id_prefix + "%"},
            )
            assert {row[0] for row in ids} == set(load.result.accepted), f"{schema} holds other records"
        ingest_rows = await conn.execute(
            text("SELECT count(*) FROM ingest.records WHERE department = 'AMR' AND record_id LIKE :p"),
            {"p": load.id_prefix + "%"},
        )
        assert ingest_rows.scalar_one() == expected
    print(
        f"\n  {expected} accepted, {load.result.retries} client retries, statuses {load.result.statuses}: "
        f"each exactly once in {', '.join(CONSUMERS)}"
    )


async def test_kafka_killed_and_restarted_mid_load_loses_and_doubles_nothing(
    services_up: Stack, tokens: dict[str, str], engine: AsyncEngine
) -> None:
    stack = services_up
    async with _load(stack, tokens) as load:
        await load.wait_for(40)
        stack.kafka.stop(kill=True)
        await load.wait_for(len(load.result.accepted) + 60)  # ingest keeps accepting: PostgreSQL commits
        stack.kafka.start()
        await load.wait_for(len(load.result.accepted) + 40)
    await assert_exactly_once_everywhere(engine, load)


async def test_postgres_restarted_mid_load_loses_and_doubles_nothing(
    services_up: Stack, tokens: dict[str, str], engine: AsyncEngine
) -> None:
    stack = services_up
    async with _load(stack, tokens) as load:
        await load.wait_for(40)
        stack.postgres.stop(mode="immediate")
        stack.postgres.start()
        await load.wait_for(len(load.result.accepted) + 80, timeout=120)
    await assert_exactly_once_everywhere(engine, load)


async def test_consumer_killed_mid_batch_and_a_second_instance_joining_apply_each_record_once(
    services_up: Stack, tokens: dict[str, str], engine: AsyncEngine
) -> None:
    stack = services_up
    second_port = free_port()
    try:
        async with _load(stack, tokens) as load:
            await load.wait_for(60)
            stack.stop_service("grading", kill=True)
            await load.wait_for(len(load.result.accepted) + 40)
            stack.start_service("grading")
            stack.start_service("grading", instance=2, port=second_port)  # joins the group: a rebalance
            stack.wait_ready("grading")
            await load.wait_for(len(load.result.accepted) + 60)
        await assert_exactly_once_everywhere(engine, load)
    finally:
        stack.stop_service("grading", instance=2)


async def test_ingest_killed_with_requests_in_flight_loses_nothing_when_clients_retry(
    services_up: Stack, tokens: dict[str, str], engine: AsyncEngine
) -> None:
    stack = services_up
    async with _load(stack, tokens) as load:
        await load.wait_for(40)
        # In a thread, so the clients keep sending while ingest is dead and restarting: those requests are cut
        # (connection reset or refused) and retried with the same id.
        await asyncio.to_thread(stack.stop_service, "ingest", kill=True)
        await asyncio.to_thread(stack.start_service, "ingest")
        await asyncio.to_thread(stack.wait_ready, "ingest")
        await load.wait_for(len(load.result.accepted) + 40)
    assert load.result.statuses.get(0, 0) > 0, "the kill should have cut some requests"
    await assert_exactly_once_everywhere(engine, load)
