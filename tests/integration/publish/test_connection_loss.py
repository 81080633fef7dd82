"""The services' pools take no pre-ping round trip (services/common/db.py): when the server ends the publish
service's connections — what a PostgreSQL restart does to every pool — neither the next request through
the pool nor the next poll of the consumer fails."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text

from services.common.db import create_engine
from tests import factories
from tests.helpers import eventually
from tests.integration.publish.support import public_id, report, wait_shown

POOL = "credit-exchange-publish"  # the service runtime's pool (ServiceRuntime.start names it)


async def _end_connections(database_url: str, application_name: str) -> None:
    """What a server restart does to a pool: every connection of `application_name` ended; returns once
    the server processes are gone."""
    admin = create_engine(database_url, pool_size=1, application_name="test-admin")
    try:
        async with admin.connect() as conn:
            ended = (
                await conn.execute(
                    # in the select list: evaluated only for the rows the WHERE keeps
                    text("SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :n"),
                    {"n": application_name},
                )
            ).all()
        assert ended, f"no connection of {application_name}"

        async def gone() -> bool | None:
            async with admin.connect() as conn:
                left = await conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:p)"), {"p": [r.pid for r in ended]}
                )
                return True if left.scalar_one() == 0 else None

        await eventually(gone, what="the pool's server processes ended")
    finally:
        await admin.dispose()


async def test_a_pool_replaces_connections_the_server_ended_at_checkout(stack_env: dict[str, str]) -> None:
    """Nothing else uses this pool, so nothing but the checkout can notice its connections are dead: the
    first statement after the server ended all of them succeeds, each on a new connection."""
    engine = create_engine(stack_env["DATABASE_URL"], pool_size=4, application_name="test-pool-checkout")

    async def backend(held: asyncio.Barrier) -> int:
        async with engine.begin() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await held.wait()  # every checkout holds its connection until all four have one
            return int(pid)

    async def four() -> set[int]:
        held = asyncio.Barrier(4)
        return set(await asyncio.gather(*(backend(held) for _ in range(4))))

    try:
        before = await four()
        assert len(before) == 4
        await _end_connections(stack_env["DATABASE_URL"], "test-pool-checkout")
        after = await four()
        assert not after & before
    finally:
        await engine.dispose()


async def test_a_server_ending_the_pools_connections_fails_neither_the_next_request_nor_the_next_poll(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], stack_env: dict[str, str]
) -> None:
    before = factories.penalty(fine=20.0)  # 一般 for an organisation: published
    who = before["id"].split("-")[0]
    await report(ingest, tokens, before, who)
    await wait_shown(publish, public_id(before, who))  # the consumer's connections are pooled now
    case = await publish.get("/v1/objections/none", params={"code": before["subject"]["code"]})
    assert case.status_code == 404, case.text  # and a request's

    await _end_connections(stack_env["DATABASE_URL"], POOL)

    # The first request after it is answered (a dead pooled connection is replaced at checkout) …
    again = await publish.get("/v1/objections/none", params={"code": before["subject"]["code"]})
    assert again.status_code == 404, again.text
    # … and the consumer's next poll applies a new record.
    after = factories.penalty(fine=20.0)
    await report(ingest, tokens, after, after["id"].split("-")[0])
    await wait_shown(publish, public_id(after, after["id"].split("-")[0]))
