"""The consumer grades a subject with a long history from its kept state (`grading.subject_state`) and the
new records, not from its records (issue 18): the grades and change events are those of a consumer that
grades every subject from its records, batch after batch, through amendments, repairs, a redelivered
record, a listing (after which the subject has no state) and a state whose stamp no longer matches the
table (not used, written again). Two empty grading schemas, the same batches."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.clock import SHANGHAI, FixedClock
from services.common.db import create_engine
from services.common.envelope import CloudEvent
from services.common.records import AcceptedRecord, SubjectFiles, records_of_subjects
from services.grading import store
from services.grading.handlers import GradingContext, batch_record_handler, load_context
from services.grading.replay import migrate_schema
from services.grading.rules.subject_state import decode, state_of
from services.grading.settings import GradingSettings
from tests.unit.test_grading_rules import COMPANY, SHOP, abnormal, correction, penalty, registration, repair

TODAY = datetime(2026, 12, 7, 12, tzinfo=SHANGHAI)


@pytest.fixture
async def schemas(stack_env: dict[str, str]) -> AsyncIterator[tuple[AsyncEngine, GradingContext, GradingContext]]:
    names = [f"grading_state_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        await asyncio.to_thread(migrate_schema, name, stack_env["DATABASE_URL"])
    engine = create_engine(stack_env["DATABASE_URL"], pool_size=2)
    clock = FixedClock(TODAY)
    kept = replace(load_context(GradingSettings(), clock, schema=names[0]), state_min_records=4, files=_Watched())
    scratch = replace(load_context(GradingSettings(), clock, schema=names[1]), state_min_records=None)
    yield engine, kept, scratch
    async with engine.begin() as conn:
        for name in names:
            await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    await engine.dispose()


class _Watched(SubjectFiles):
    """The files kept parsed, noting which subjects' records were read (those not graded from a state)."""

    def __init__(self) -> None:
        super().__init__()
        self.read_codes: set[str] = set()

    async def read(self, conn: Any, schema: str, codes: Sequence[str]) -> dict[str, list[AcceptedRecord]]:
        self.read_codes.update(codes)
        return await super().read(conn, schema, codes)


def _event(record: AcceptedRecord) -> CloudEvent:
    return CloudEvent(
        id=f"{record.department}/{record.record_id}",
        source="/services/ingest",
        type="cn.credit.record.accepted",
        subject=record.subject_code,
        time=TODAY,
        data={"record": record.record, "receipt": record.receipt},
    )


def _day(n: int) -> str:
    return str(TODAY.date() - timedelta(days=1 + n % 9))


def _penalties(n: int, start: int, kind: str = "legal_person") -> list[AcceptedRecord]:
    return [
        penalty(_day(i), "罚款", fine=2.5 if i % 4 else 4, department=("AMR", "TAX")[i % 2], kind=kind)
        for i in range(start, start + n)
    ]


async def _outbox(engine: AsyncEngine, schema: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT value FROM {schema}.outbox ORDER BY id"))
        return [orjson.loads(row.value) for row in rows]


async def _grades(engine: AsyncEngine, schema: str) -> list[store.StoredGrade]:
    async with engine.connect() as conn:
        return await store.all_grades(conn, schema)


async def test_grading_from_kept_states_equals_grading_from_the_records(
    schemas: tuple[AsyncEngine, GradingContext, GradingContext],
) -> None:
    engine, kept, scratch = schemas
    first = _penalties(20, 0)
    shop = _penalties(6, 100, kind="individual_business")
    batches: list[tuple[list[AcceptedRecord], set[str]]] = [
        # (the batch, the subjects graded from their kept state)
        ([*first, *shop[:2]], set()),
        (_penalties(1, 20), {COMPANY}),
        ([*_penalties(3, 21), first[5], *shop[2:]], {COMPANY}),  # first[5] again: a redelivery
        ([correction(first[0], _day(1), CF_NR_FK=9), *_penalties(1, 24)], set()),
        # D: a change event from the kept state, then a correction: the records from there on
        ([penalty(_day(0), "责令停产停业"), correction(first[1], _day(1), CF_NR_FK=9), *_penalties(1, 25)], set()),
        (_penalties(1, 29), {COMPANY}),
        ([repair(first[2], _day(0)), penalty(_day(0), "警告", kind="individual_business")], {SHOP}),
        ([registration("恢复营业", _day(0)), *_penalties(2, 26), *_penalties(1, 106, "individual_business")], set()),
        ([abnormal("列入", _day(0))], set()),
        (_penalties(1, 28), set()),  # a subject with a listing has no state
    ]
    for n, (batch, from_state) in enumerate(batches):
        if n == 7:  # a stamp that no longer matches the table: the state is not used, and written again
            async with engine.begin() as conn:
                await conn.execute(text(f"UPDATE {kept.schema}.subject_state SET key_sum = key_sum + 1"))
        files = kept.files
        assert isinstance(files, _Watched)
        files.read_codes.clear()
        for ctx in (kept, scratch):
            async with engine.begin() as conn:
                await batch_record_handler(ctx)(conn, [_event(r) for r in batch])
        assert {r.subject_code for r in batch} - files.read_codes == from_state, n
        assert await _grades(engine, kept.schema) == await _grades(engine, scratch.schema), n
        assert await _outbox(engine, kept.schema) == await _outbox(engine, scratch.schema), n

    assert len(await _outbox(engine, kept.schema)) >= 3  # the grades moved
    async with engine.connect() as conn:
        states = await store.load_states(conn, kept.schema, [COMPANY, SHOP])
        records = await records_of_subjects(conn, kept.schema, [SHOP])
        stamps = await store.stamps(conn, kept.schema, [SHOP])
    assert list(states) == [SHOP]
    assert states[SHOP].stamp == stamps[SHOP]
    assert decode(states[SHOP].state) == state_of(records[SHOP])
