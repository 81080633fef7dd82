"""A second stack beside the session one, for tests that need brokers of their own (the secure broker,
the three-node cluster): its own database inside the session PostgreSQL (the session services share
the session database's outbox tables, so a second stack must not), its own topics, its own ports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import make_url

from deploy.local_kafka import run_coroutine_in_thread


@contextmanager
def scratch_database(database_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the same server (the exchange role may create databases); dropped after."""
    url = make_url(database_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run_coroutine_in_thread(run(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        run_coroutine_in_thread(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
