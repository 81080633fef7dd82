"""Real disk faults under ingest's commit: a full disk, a stalled write, a COMMIT that does not answer.

Each answers 503 with Retry-After in bounded time, stores nothing half, and the department's retry with
the same id succeeds once the fault is gone (202, or 200 with the original receipt if the unconfirmed
commit did happen). The faults are real PostgreSQL conditions, made with superuser access to the test
cluster (the `postgres` user over its socket) and, for the full disk, a 1 MiB tmpfs mounted as a tablespace
(this needs root, as the test stack does when it installs PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.stack import Stack
from services.common.clock import FixedClock
from services.common.db import create_engine
from tests import factories
from tests.helpers import eventually, served_in_process

COMMIT_TIMEOUT = 1.0  # seconds; the service default is 5
TABLESPACE = "exchange_small_disk"


@pytest.fixture(scope="module")
async def ingest_app(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """Ingest in-process with a short commit timeout, so the bounded waits are short too."""
    from services.ingest.app import create_app
    from services.ingest.settings import IngestSettings

    app = create_app(IngestSettings(commit_timeout_seconds=COMMIT_TIMEOUT), clock=clock)
    async with served_in_process(app, "ingest") as client:
        yield client


@pytest.fixture
async def engine(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(stack.database_url, pool_size=2)
    yield engine
    await engine.dispose()


def superuser_sql(stack: Stack, sql: str) -> str:
    """Run `sql` as the cluster's superuser (tablespaces and ALTER SYSTEM need one; the services' role is not)."""
    psql = shutil.which("psql") or str(sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))[-1])
    argv = [psql, "-h", str(stack.postgres.data_dir), "-p", str(stack.postgres.port), "-U", "postgres"]
    argv += ["-d", "exchange", "-v", "ON_ERROR_STOP=1", "-qAtc", sql]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{sql}: {result.stderr.strip()}"
    return result.stdout.strip()


async def as_superuser(stack: Stack, sql: str) -> str:
    """`superuser_sql` off the event loop: the in-process services keep running while psql waits (a
    VACUUM FULL waits for the relay's open transaction, which needs the loop to finish)."""
    return await asyncio.to_thread(superuser_sql, stack, sql)


@contextlib.contextmanager
def small_disk(size: str = "1m") -> Iterator[Path]:
    """A tmpfs of `size`, owned by the postgres user, mounted on an empty folder (a tablespace location)."""
    owner = pwd.getpwnam("postgres")
    mount_point = Path(tempfile.mkdtemp(prefix="exchange-small-disk-"))
    mount_point.chmod(0o755)
    options = f"size={size},uid={owner.pw_uid},gid={owner.pw_gid},mode=0700"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    assert mounted.returncode == 0, f"cannot mount a tmpfs for the full-disk test (needs root): {mounted.stderr}"
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
        mount_point.rmdir()


def fill(disk: Path) -> Path:
    """Write a file until the file system says ENOSPC; return it (delete it to give the space back)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (b"\0" * 65536, b"\0" * 4096):  # unbuffered, so nothing is left to flush at close
            try:
                while os.write(fd, chunk) > 0:
                    pass
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return filler


def auth(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['TOKEN_AMR']}"}


async def stored(engine: AsyncEngine, record_id: str) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT receipt FROM ingest.records WHERE department = 'AMR' AND record_id = :r"), {"r": record_id}
            )
        ).first()
    return None if row is None else dict(row.receipt)


async def chain_head(engine: AsyncEngine) -> tuple[int, str]:
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT seq, head_hash FROM ingest.chains WHERE department = 'AMR'"))).one()
    return int(row.seq), str(row.head_hash)


async def outbox_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM ingest.outbox"))).scalar_one())


def assert_503(response: httpx.Response, code: str, retry_after: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == retry_after
    (error,) = response.json()["errors"]
    assert error["code"] == code, error
    assert "same id" in error["message"]


async def test_a_full_disk_under_the_outbox_answers_503_stores_nothing_and_recovers_when_space_returns(
    ingest_app: httpx.AsyncClient, tokens: dict[str, str], stack: Stack, engine: AsyncEngine
) -> None:
    warm_up = await ingest_app.post("/v1/records", json=factories.penalty(), headers=auth(tokens))
    assert warm_up.status_code == 202
    await eventually(lambda: _is_zero(outbox_rows(engine)), what="the outbox to drain")
    with small_disk() as disk:
        await as_superuser(stack, f"CREATE TABLESPACE {TABLESPACE} LOCATION '{disk}'")
        try:
            # After a long session the drained outbox still holds dead rows' pages (MBs): compact it first,
            # so moving it fits on the small disk.
            await as_superuser(stack, "VACUUM FULL ingest.outbox")
            await as_superuser(stack, f"ALTER TABLE ingest.outbox SET TABLESPACE {TABLESPACE}")
            # The relay deleted the warm-up's row; drop the emptied page too, so the next row needs new space.
            await as_superuser(stack, "VACUUM (TRUNCATE true) ingest.outbox")
            assert await as_superuser(stack, "SELECT pg_relation_size('ingest.outbox')") == "0"
            filler = fill(disk)
            head = await chain_head(engine)
            record = factories.penalty()

            refused = await ingest_app.post("/v1/records", json=record, headers=auth(tokens))
            assert_503(refused, "database_full", "30")
            assert "53100" in refused.json()["errors"][0]["message"]
            # nothing half: the records row was inserted before the outbox row failed, and rolled back
            assert await stored(engine, record["id"]) is None
            assert await chain_head(engine) == head
            assert await outbox_rows(engine) == 0

            filler.unlink()  # space returns; no restart of anything
            accepted = await ingest_app.post("/v1/records", json=record, headers=auth(tokens))
            assert accepted.status_code == 202, accepted.text
            receipt = accepted.json()["receipt"]
            assert (receipt["seq"], receipt["prev_hash"]) == (head[0] + 1, head[1])  # no gap in the chain
            await eventually(lambda: _is_zero(outbox_rows(engine)), what="the relay to send it")
        finally:
            await as_superuser(stack, "ALTER TABLE ingest.outbox SET TABLESPACE pg_default")
            await as_superuser(stack, f"DROP TABLESPACE IF EXISTS {TABLESPACE}")


async def test_a_stalled_write_on_the_chain_head_is_bounded_503_then_accepted_after_release(
    ingest_app: httpx.AsyncClient, tokens: dict[str, str], engine: AsyncEngine
) -> None:
    assert (await ingest_app.post("/v1/records", json=factories.penalty(), headers=auth(tokens))).status_code == 202
    record = factories.penalty()
    async with engine.connect() as stalled:
        await stalled.begin()  # another session holds AMR's chain head, as a write stuck on a slow disk would
        await stalled.execute(text("SELECT 1 FROM ingest.chains WHERE department = 'AMR' FOR UPDATE"))
        started = time.monotonic()
        refused = await ingest_app.post("/v1/records", json=record, headers=auth(tokens))
        waited = time.monotonic() - started
        await stalled.rollback()
    assert_503(refused, "database_slow", "5")
    message = refused.json()["errors"][0]["message"]
    assert "SQLSTATE 57014" in message or "SQLSTATE 55P03" in message  # statement or lock timeout, same bound
    assert COMMIT_TIMEOUT <= waited < COMMIT_TIMEOUT + 1.0, f"waited {waited:.2f}s"
    assert await stored(engine, record["id"]) is None
    accepted = await ingest_app.post("/v1/records", json=record, headers=auth(tokens))
    assert accepted.status_code == 202, accepted.text


async def test_a_commit_that_does_not_answer_is_503_outcome_unknown_and_the_retry_gets_the_original_receipt(
    ingest_app: httpx.AsyncClient, tokens: dict[str, str], stack: Stack, engine: AsyncEngine
) -> None:
    """COMMIT waits for a synchronous standby that never answers (as it would for a stalled fsync): the
    caller's wait is bounded, the outcome is unknown, and the batch does commit once the wait ends."""
    assert (await ingest_app.post("/v1/records", json=factories.penalty(), headers=auth(tokens))).status_code == 202
    in_flight, queued = factories.penalty(), factories.penalty()
    await as_superuser(stack, "ALTER SYSTEM SET synchronous_standby_names = 'exchange_test_absent_standby'")
    await as_superuser(stack, "SELECT pg_reload_conf()")
    try:
        await eventually(lambda: _sync_standby_required(engine), what="the synchronous standby setting")
        started = time.monotonic()
        unknown = await ingest_app.post("/v1/records", json=in_flight, headers=auth(tokens))
        assert time.monotonic() - started < COMMIT_TIMEOUT + 1.5
        assert_503(unknown, "outcome_unknown", "5")
        # the writer is still inside that COMMIT: the next record waits in the queue, and is dropped from it
        slow = await ingest_app.post("/v1/records", json=queued, headers=auth(tokens))
        assert_503(slow, "database_slow", "5")
    finally:
        await as_superuser(stack, "ALTER SYSTEM RESET synchronous_standby_names")
        await as_superuser(stack, "SELECT pg_reload_conf()")
    # the unconfirmed commit did happen: the retry gets the original receipt, not a second record
    original = await eventually(lambda: stored(engine, in_flight["id"]), what="the waiting commit to finish")
    retried = await ingest_app.post("/v1/records", json=in_flight, headers=auth(tokens))
    assert retried.status_code == 200, retried.text
    assert retried.json()["receipt"] == original
    # the queued one was never stored: its retry is a fresh 202
    assert await stored(engine, queued["id"]) is None
    assert (await ingest_app.post("/v1/records", json=queued, headers=auth(tokens))).status_code == 202


async def _is_zero(count: Any) -> bool:
    return bool(await count == 0)


async def _sync_standby_required(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:  # a new session reads the reloaded configuration
        value = (await conn.execute(text("SHOW synchronous_standby_names"))).scalar_one()
    return bool(value == "exchange_test_absent_standby")
