"""Subjects' files kept parsed between transactions (`SubjectFiles`, issue 18): a read gives exactly what a
fresh read of the table gives, reads only the rows added since, and never keeps what was rolled back or
what the table no longer holds."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import create_engine
from services.common.records import AcceptedRecord, SubjectFiles, record_from_row, records_of_subjects
from services.common.records import store_received_records as store
from services.grading.replay import migrate_schema
from tests import factories

CODE = factories.uscc("91")


class _Rollback(Exception):
    pass


def _records(n: int, start: int = 0, code: str = CODE) -> list[AcceptedRecord]:
    made = []
    for i in range(start, start + n):
        record = factories.penalty(code=code, decision_date="2026-11-02")
        record["id"] = f"F{i}" if code == CODE else f"{code}-{i}"
        receipt = {"department": "AMR", "received_at": datetime(2026, 11, 3, tzinfo=UTC).isoformat()}
        made.append(record_from_row(record, receipt))
    return made


@pytest.fixture
async def scratch(stack_env: dict[str, str]) -> AsyncIterator[tuple[AsyncEngine, str]]:
    name = f"grading_files_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(migrate_schema, name, stack_env["DATABASE_URL"])
    engine = create_engine(stack_env["DATABASE_URL"], pool_size=2)
    yield engine, name
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    await engine.dispose()


async def _read_then_roll_back(engine: AsyncEngine, schema: str, files: SubjectFiles) -> None:
    async with engine.begin() as conn:
        await store(conn, schema, _records(2, start=8))
        assert len((await files.read(conn, schema, [CODE]))[CODE]) == 10  # its own rows, in its transaction
        raise _Rollback


async def _both(engine: AsyncEngine, schema: str, files: SubjectFiles) -> tuple[list[str], list[str]]:
    async with engine.begin() as conn:
        kept = (await files.read(conn, schema, [CODE])).get(CODE, [])
        fresh = (await records_of_subjects(conn, schema, [CODE])).get(CODE, [])
    assert sorted(kept, key=lambda r: r.record_id) == sorted(fresh, key=lambda r: r.record_id)
    return sorted(r.record_id for r in kept), sorted(r.record_id for r in fresh)


async def test_a_kept_file_reads_what_was_added_and_matches_the_table(scratch: tuple[AsyncEngine, str]) -> None:
    engine, schema = scratch
    files = SubjectFiles(min_records=2)
    async with engine.begin() as conn:
        await store(conn, schema, _records(5))
    assert len((await _both(engine, schema, files))[0]) == 5
    async with engine.begin() as conn:
        first = (await files.read(conn, schema, [CODE]))[CODE]
        await store(conn, schema, _records(3, start=5))
    async with engine.begin() as conn:
        again = (await files.read(conn, schema, [CODE]))[CODE]
    # The five kept are the very objects parsed before: only the three new rows were read and parsed.
    assert {id(r) for r in first} <= {id(r) for r in again}
    assert len(again) == 8

    with pytest.raises(_Rollback):
        await _read_then_roll_back(engine, schema, files)
    assert len((await _both(engine, schema, files))[0]) == 8

    async with engine.begin() as conn:
        await conn.execute(text(f"DELETE FROM {schema}.records WHERE record_id IN ('F1', 'F6')"))
    kept, _ = await _both(engine, schema, files)
    assert kept == ["F0", "F2", "F3", "F4", "F5", "F7"]

    # Emptied and refilled with as many rows (the sequence goes on, but the keys differ): read anew.
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {schema}.records"))
        await store(conn, schema, _records(6, start=20))
    kept, _ = await _both(engine, schema, files)
    assert kept == [f"F{i}" for i in range(20, 26)]
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {schema}.records"))
    assert await _both(engine, schema, files) == ([], [])


async def test_the_bound_evicts_the_least_recently_read(scratch: tuple[AsyncEngine, str]) -> None:
    engine, schema = scratch
    codes = [factories.uscc("91") for _ in range(3)]
    files = SubjectFiles(max_records=8, min_records=2)
    async with engine.begin() as conn:
        for code in codes:
            await store(conn, schema, _records(4, code=code))
        read = await files.read(conn, schema, codes)
    assert {code: len(r) for code, r in read.items()} == dict.fromkeys(codes, 4)
    assert sorted(code for _, code in files._files) == sorted(codes[1:])
