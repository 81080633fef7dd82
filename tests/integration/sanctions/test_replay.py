"""An auditor rebuilds the sanctions state from the topics alone (DOMAIN §10): a second sanctions instance
with its own consumer group and an empty schema reads every topic from offset 0 and must arrive at the
same cases, instructions (with feedback) and related-person links as the live one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from alembic import command
from sqlalchemy import text

from deploy.stack import Stack
from services.common.clock import FixedClock
from services.common.db import create_engine
from services.common.migrations import alembic_config
from tests import factories
from tests.helpers import eventually
from tests.integration.sanctions.support import (
    case_id_of,
    feedback,
    grade_changed,
    objection_filed,
    publish,
    red_list,
    removal,
    report,
    serious_listing,
    verification,
    wait_case,
)

CASES = (
    "case_id, subject_code, subject_kind, subject_name, nature, trigger_kind, trigger_department, trigger_record_id, "
    "since, until, state, state_since, state_reason, wrongful, objection_ids, departments, measures, "
    "measure_list_version"
)
INSTRUCTIONS = (
    "instruction_id, case_id, subject_code, department, measures, persons, content_hash, feedback_state, feedback, "
    "unanswered_measures"
)
RELATED = "person_code, role, case_id, subject_code, name, id_type, measure_ids"


async def snapshot(stack: Stack, schema: str, codes: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The derived state of `codes` in `schema`, without processing times or the history of sent events."""
    engine = create_engine(stack.database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            found = {}
            for table, columns, key in (
                ("cases", CASES, "case_id"),
                ("instructions", INSTRUCTIONS, "instruction_id"),
                ("related_persons", RELATED, "person_code, role, case_id"),
            ):
                rows = await conn.execute(
                    text(f"SELECT {columns} FROM {schema}.{table} WHERE subject_code = ANY(:codes) ORDER BY {key}"),
                    {"codes": list(codes)},
                )
                found[table] = [dict(r._mapping) for r in rows]
            return found
    finally:
        await engine.dispose()


async def test_replay_into_an_empty_schema_gives_the_same_cases(
    ingest: httpx.AsyncClient,
    sanctions: httpx.AsyncClient,
    tokens: dict[str, str],
    stack: Stack,
    producer: AIOKafkaProducer,
    clock: FixedClock,
) -> None:
    listed, objected, removed, red, graded = (factories.uscc() for _ in range(5))
    person = factories.citizen_id("19720202")
    first = serious_listing(listed, persons=[("法定代表人", person)])
    second, third = serious_listing(objected), serious_listing(removed)
    for record in (first, second, third, red_list(red)):
        await report(ingest, tokens, record)
    await report(
        ingest,
        tokens,
        feedback(first["subject"], department="DRC", case_id=case_id_of(first), measure_id="M-GF33-ADM-09"),
    )
    await report(ingest, tokens, removal(third, on="2026-11-19"))
    filed = objection_filed(second, filed_at="2026-11-17T10:00:00+08:00")
    await publish(producer, f"{stack.config.topic_prefix}outcomes.objections", filed)
    await report(
        ingest, tokens, verification(second, objection_id=filed.data["objection_id"], outcome="不属实", on="2026-11-20")
    )
    await publish(
        producer,
        f"{stack.config.topic_prefix}outcomes.grades",
        grade_changed(graded, rule_set="benxi-2017", old="B", new="C", effective="2026-11-12"),
    )
    settled = {
        listed: lambda c: any(i["feedback_state"] == "partial" for i in c["instructions"]),
        objected: lambda c: c["state"] == "open" and c["state_since"] == "2026-11-20",
        removed: lambda c: c["state"] == "lifted",
        red: lambda c: c["nature"] == "reward",
        graded: lambda c: c["state"] == "open",
    }
    for code, ready in settled.items():
        await wait_case(sanctions, tokens, code, ready, f"the live state of {code}", kinds=None)
    codes = [*settled, person]
    live = await snapshot(stack, "sanctions", codes)
    assert len(live["cases"]) >= 5  # grading, when it runs beside us, adds grade cases of its own
    assert [r["person_code"] for r in live["related_persons"]] == [person]

    schema = f"sanctions_replay_{uuid.uuid4().hex[:8]}"
    config = alembic_config("sanctions", stack.database_url)
    config.attributes["schema"] = schema
    await asyncio.to_thread(command.upgrade, config, "head")
    try:
        from services.sanctions.app import create_app
        from services.sanctions.settings import SanctionsSettings

        settings = SanctionsSettings(tick_seconds=0.2, db_schema=schema, instance=schema.replace("_", "-"))
        replay = create_app(settings, clock=clock)
        async with replay.router.lifespan_context(replay):

            async def caught_up() -> bool:
                rebuilt = await snapshot(stack, schema, codes)
                return rebuilt == await snapshot(stack, "sanctions", codes) and bool(rebuilt["cases"])

            await eventually(caught_up, timeout=90, what="the replay to rebuild the live cases")
    finally:
        engine = create_engine(stack.database_url, pool_size=1)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        finally:
            await engine.dispose()
