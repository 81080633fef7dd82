"""The SQL of handling a poll: the poll's inputs added, its subjects locked and read, and the rows that
changed written, each in one statement whatever the number of subjects (module functions taking the schema).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.amendments import AMENDMENT_TYPES
from services.common.db import sql
from services.common.envelope import dumps
from services.common.records import AcceptedRecord, record_from_row, store_received_records
from services.sanctions.rules.derive import FEEDBACK, GradeChange, Objection
from services.sanctions.rules.plan import Plan, RelatedKey, Row, Stored

CASE_COLUMNS = (
    "case_id, subject_code, subject_kind, subject_name, nature, trigger_kind, trigger_department, trigger_record_id, "
    "since, until, state, state_since, state_reason, wrongful, objection_ids, departments, measures, "
    "measure_list_version, emitted, review_on"
)
INSTRUCTION_COLUMNS = (
    "instruction_id, case_id, subject_code, department, measures, persons, content_hash, feedback_state, feedback, "
    "unanswered_measures"
)
RELATED_COLUMNS = "person_code, role, case_id, subject_code, name, id_type, measure_ids"
_AMENDMENTS = ", ".join(f"'{t}'" for t in sorted(AMENDMENT_TYPES))


def _json(value: Any) -> str:
    return dumps(value).decode()


async def add_records(conn: AsyncConnection, schema: str, records: Sequence[AcceptedRecord]) -> set[str]:
    """Keep the consumed records (the first copy of an id); the event ids of those that were new."""
    if not records:
        return set()
    return await store_received_records(conn, schema, records)


async def add_objections(
    conn: AsyncConnection, schema: str, objections: Sequence[tuple[Objection, datetime]]
) -> set[str]:
    """Keep the objections publish announced (each once); the ids of those that were new."""
    if not objections:
        return set()
    rows = await conn.execute(
        sql(
            f"INSERT INTO {schema}.objections (objection_id, subject_code, department, record_id, filed_at, filed_on) "
            "SELECT * FROM unnest(CAST(:id AS text[]), CAST(:code AS text[]), CAST(:dept AS text[]), "
            "CAST(:rec AS text[]), CAST(:at AS timestamptz[]), CAST(:on AS date[])) "
            "ON CONFLICT (objection_id) DO NOTHING RETURNING objection_id"
        ),
        {
            "id": [o.objection_id for o, _ in objections],
            "code": [o.subject_code for o, _ in objections],
            "dept": [o.department for o, _ in objections],
            "rec": [o.record_id for o, _ in objections],
            "at": [at for _, at in objections],
            "on": [o.filed_on for o, _ in objections],
        },
    )
    return set(rows.scalars())


async def add_grades(conn: AsyncConnection, schema: str, grades: Sequence[GradeChange]) -> set[str]:
    """Keep the grade changes grading announced (each once, by event id); the ids of those that were new."""
    if not grades:
        return set()
    rows = await conn.execute(
        sql(
            f"INSERT INTO {schema}.grades (event_id, code, rule_set, effective_date, grade, subject_kind, "
            "announced_at, rests_on) SELECT * FROM unnest(CAST(:ev AS text[]), CAST(:code AS text[]), "
            "CAST(:rs AS text[]), CAST(:eff AS date[]), CAST(:grade AS text[]), CAST(:kind AS text[]), "
            "CAST(:at AS timestamptz[]), CAST(:rests AS jsonb[])) ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        ),
        {
            "ev": [g.event_id for g in grades],
            "code": [g.code for g in grades],
            "rs": [g.rule_set for g in grades],
            "eff": [g.effective for g in grades],
            "grade": [g.grade for g in grades],
            "kind": [g.subject_kind for g in grades],
            "at": [g.announced_at for g in grades],
            "rests": [_json([list(key) for key in g.rests_on]) for g in grades],
        },
    )
    return set(rows.scalars())


async def case_subjects(conn: AsyncConnection, schema: str, codes: Sequence[str], case_ids: Sequence[str]) -> set[str]:
    """Of `codes`, those with a case; and the subjects of the cases `case_ids`."""
    if not codes and not case_ids:
        return set()
    rows = await conn.execute(
        sql(
            f"SELECT DISTINCT subject_code FROM {schema}.cases WHERE subject_code = ANY(CAST(:c AS text[])) "
            "OR case_id = ANY(CAST(:ids AS text[]))"
        ),
        {"c": list(codes), "ids": list(case_ids)},
    )
    return set(rows.scalars())


async def lock_subjects(conn: AsyncConnection, schema: str, codes: Sequence[str]) -> None:
    """Serialise the handling of these subjects (consumer, ticker, other replicas) until commit; the locks
    are taken in one order, so two polls sharing subjects never wait on each other in a cycle."""
    await conn.execute(
        sql(
            "SELECT count(pg_advisory_xact_lock(hashtext(k))) FROM "
            "(SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY hashtext(k), k) AS ordered"
        ),
        {"keys": [f"{schema}:subject:{code}" for code in codes]},
    )


async def objections_of(conn: AsyncConnection, schema: str, codes: Sequence[str]) -> dict[str, list[Objection]]:
    rows = await conn.execute(
        sql(
            "SELECT objection_id, subject_code, department, record_id, filed_on, withdrawn_on "
            f"FROM {schema}.objections WHERE subject_code = ANY(CAST(:c AS text[]))"
        ),
        {"c": list(codes)},
    )
    found: dict[str, list[Objection]] = defaultdict(list)
    for r in rows:
        found[r.subject_code].append(
            Objection(r.objection_id, r.subject_code, r.department, r.record_id, r.filed_on, r.withdrawn_on)
        )
    return found


async def grades_of(conn: AsyncConnection, schema: str, codes: Sequence[str]) -> dict[str, list[GradeChange]]:
    rows = await conn.execute(
        sql(
            "SELECT code, rule_set, grade, effective_date, subject_kind, announced_at, event_id, rests_on "
            f"FROM {schema}.grades WHERE code = ANY(CAST(:c AS text[]))"
        ),
        {"c": list(codes)},
    )
    found: dict[str, list[GradeChange]] = defaultdict(list)
    for r in rows:
        found[r.code].append(
            GradeChange(
                r.code,
                r.rule_set,
                r.grade,
                r.effective_date,
                r.subject_kind,
                r.announced_at,
                r.event_id,
                tuple((str(d), str(i)) for d, i in r.rests_on),
            )
        )
    return found


async def stored_rows(conn: AsyncConnection, schema: str, codes: Sequence[str]) -> dict[str, Stored]:
    """Each subject's case, instruction and related-person rows, as compared with the derived ones."""
    params = {"c": list(codes)}
    where = "WHERE subject_code = ANY(CAST(:c AS text[]))"
    cases: dict[str, dict[str, Row]] = defaultdict(dict)
    for r in await conn.execute(sql(f"SELECT {CASE_COLUMNS} FROM {schema}.cases {where}"), params):
        cases[r.subject_code][r.case_id] = dict(r._mapping)
    instructions: dict[str, dict[str, Row]] = defaultdict(dict)
    for r in await conn.execute(sql(f"SELECT {INSTRUCTION_COLUMNS} FROM {schema}.instructions {where}"), params):
        instructions[r.subject_code][r.instruction_id] = dict(r._mapping)
    related: dict[str, dict[RelatedKey, Row]] = defaultdict(dict)
    for r in await conn.execute(sql(f"SELECT {RELATED_COLUMNS} FROM {schema}.related_persons {where}"), params):
        related[r.subject_code][(r.person_code, r.role, r.case_id)] = dict(r._mapping)
    return {code: Stored(cases[code], instructions[code], related[code]) for code in codes}


async def feedback_filed_elsewhere(
    conn: AsyncConnection, schema: str, codes: Sequence[str], case_ids: Sequence[str]
) -> list[AcceptedRecord]:
    """Feedback on the cases `case_ids` filed under a code not in `codes` (by mistake), with the amendments
    filed under the same codes (those under `codes` the caller already has)."""
    if not case_ids:
        return []
    rows = await conn.execute(
        sql(
            f"SELECT record, receipt FROM {schema}.records WHERE subject_code IN ("
            f"SELECT subject_code FROM {schema}.records WHERE record_type = '{FEEDBACK}' "
            "AND record->'data'->>'case_id' = ANY(CAST(:ids AS text[])) "
            "AND subject_code <> ALL(CAST(:codes AS text[]))) "
            f"AND record_type IN ('{FEEDBACK}', {_AMENDMENTS})"
        ),
        {"codes": list(codes), "ids": list(case_ids)},
    )
    return [record_from_row(r.record, r.receipt) for r in rows]


def _rows_json(rows: Iterable[Row]) -> str:
    return _json(list(rows))


async def write(conn: AsyncConnection, schema: str, plan: Plan) -> None:
    """The rows of `plan`, one statement per table and kind of change."""
    if plan.cases:
        columns = CASE_COLUMNS
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns.split(", ") if c != "case_id")
        await conn.execute(
            sql(
                f"INSERT INTO {schema}.cases ({columns}) SELECT {columns} FROM "
                f"jsonb_populate_recordset(NULL::{schema}.cases, CAST(:rows AS jsonb)) "
                f"ON CONFLICT (case_id) DO UPDATE SET {updates}, updated_at = now()"
            ),
            {"rows": _rows_json(plan.cases)},
        )
    if plan.dropped_instructions:
        await conn.execute(
            sql(f"DELETE FROM {schema}.instructions WHERE instruction_id = ANY(CAST(:ids AS text[]))"),
            {"ids": plan.dropped_instructions},
        )
    if plan.instructions:
        columns = INSTRUCTION_COLUMNS
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns.split(", ") if c != "instruction_id")
        await conn.execute(
            sql(
                f"INSERT INTO {schema}.instructions ({columns}) SELECT {columns} FROM "
                f"jsonb_populate_recordset(NULL::{schema}.instructions, CAST(:rows AS jsonb)) "
                f"ON CONFLICT (instruction_id) DO UPDATE SET {updates}, updated_at = now()"
            ),
            {"rows": _rows_json(plan.instructions)},
        )
    if plan.dropped_related:
        await conn.execute(
            sql(
                f"DELETE FROM {schema}.related_persons AS rp USING unnest(CAST(:p AS text[]), CAST(:r AS text[]), "
                "CAST(:c AS text[])) AS k(p, r, c) WHERE rp.person_code = k.p AND rp.role = k.r AND rp.case_id = k.c"
            ),
            {
                "p": [p for p, _, _ in plan.dropped_related],
                "r": [r for _, r, _ in plan.dropped_related],
                "c": [c for _, _, c in plan.dropped_related],
            },
        )
    if plan.related:
        columns = RELATED_COLUMNS
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in ("subject_code", "name", "id_type", "measure_ids"))
        await conn.execute(
            sql(
                f"INSERT INTO {schema}.related_persons ({columns}) SELECT {columns} FROM "
                f"jsonb_populate_recordset(NULL::{schema}.related_persons, CAST(:rows AS jsonb)) "
                f"ON CONFLICT (person_code, role, case_id) DO UPDATE SET {updates}"
            ),
            {"rows": _rows_json(plan.related)},
        )


def by_subject(records: Iterable[AcceptedRecord]) -> Mapping[str, list[AcceptedRecord]]:
    found: dict[str, list[AcceptedRecord]] = defaultdict(list)
    for r in records:
        found[r.subject_code].append(r)
    return found
