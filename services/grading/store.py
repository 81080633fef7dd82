"""All SQL of the grading service. Functions run inside a transaction their caller owns; none commits.

`schema` is `grading` for the service; a replay into an empty schema (`services.grading.replay`) passes
its own. Schema names come from code, never from a request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any, NamedTuple

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql
from services.common.records import AcceptedRecord, record_from_row
from services.grading.rules.grades import StoredGrade

SCHEMA = "grading"


_COLUMNS = (
    "code, rule_set, rule_set_version, grade, since, next_review, review_on, supervision_level, reason, "
    "subject_kind, explanation, computed_on"
)


async def lock_subject(conn: AsyncConnection, schema: str, code: str) -> None:
    """Serialise every grading of one subject (consumer, ticker, replicas) until the transaction ends."""
    await lock_subjects(conn, schema, [code])


async def lock_subjects(conn: AsyncConnection, schema: str, codes: Sequence[str]) -> None:
    """`lock_subject` for several subjects, in the order of the locks' own keys (two transactions locking
    overlapping sets never wait for each other in a cycle, even when two codes share a hash)."""
    await conn.execute(
        sql(
            "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(k) AS h "
            "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY h) AS ordered"
        ),
        {"keys": [f"{schema}:grade:{code}" for code in codes]},
    )


async def save_subjects(conn: AsyncConnection, schema: str, subjects: Sequence[tuple[str, str, str]]) -> None:
    """Upsert subjects' (code, kind, name), one executemany (one pipelined round trip) for a poll."""
    if not subjects:
        return
    await conn.execute(
        sql(
            f"INSERT INTO {schema}.subjects (code, kind, name) VALUES (:code, :kind, :name) "
            "ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name"
        ),
        [{"code": code, "kind": kind, "name": name} for code, kind, name in subjects],
    )


class GradeWrite(NamedTuple):
    """A grade to write: the subject's name, the grade, its explanation as JSON and that JSON's digest."""

    name: str
    grade: StoredGrade
    explanation: str
    digest: bytes


class StoredHead(NamedTuple):
    """A stored grade without its explanation (an empty list stands in for it) and the digest of the stored
    explanation (None for a row written before digests were kept)."""

    grade: StoredGrade
    digest: bytes | None


def grade_write(name: str, grade: StoredGrade) -> GradeWrite:
    explanation = orjson.dumps(grade.explanation)
    return GradeWrite(name, grade, explanation.decode(), hashlib.blake2b(explanation, digest_size=16).digest())


def unchanged(write: GradeWrite, head: StoredHead | None) -> bool:
    """Whether the stored row already holds this grade: every column but the explanation equal, and the
    explanation's digest (a heavy subject's explanation is ~67 KB: neither read back nor compared)."""
    return (
        head is not None
        and head.digest == write.digest
        and replace(write.grade, explanation=head.grade.explanation) == head.grade
    )


async def load_heads(conn: AsyncConnection, schema: str, codes: Sequence[str], rule_set: str) -> dict[str, StoredHead]:
    """The subjects' grades under `rule_set` without their explanations (what a grading reads back)."""
    rows = await conn.execute(
        sql(
            f"SELECT {_HEAD_COLUMNS}, explanation_digest FROM {schema}.grades "
            "WHERE code = ANY(CAST(:codes AS text[])) AND rule_set = :rs"
        ),
        {"codes": list(codes), "rs": rule_set},
    )
    return {
        row.code: StoredHead(
            StoredGrade(**{name: row._mapping[name] for name in _HEAD_NAMES}, explanation=[]),
            None if row.explanation_digest is None else bytes(row.explanation_digest),
        )
        for row in rows
    }


def _grade_params(write: GradeWrite) -> dict[str, Any]:
    params = {n: getattr(write.grade, n) for n in _NAMES}
    params["explanation"] = write.explanation
    params["explanation_digest"] = write.digest
    return params


_NAMES = _COLUMNS.split(", ")
_HEAD_NAMES = [n for n in _NAMES if n != "explanation"]
_HEAD_COLUMNS = ", ".join(_HEAD_NAMES)
_WRITTEN = f"{_COLUMNS}, explanation_digest"
_VALUES = ", ".join(
    "CAST(:explanation AS jsonb)" if n == "explanation" else f":{n}" for n in (*_NAMES, "explanation_digest")
)
_UPDATES = ", ".join(f"{n} = EXCLUDED.{n}" for n in (*_NAMES, "explanation_digest") if n not in ("code", "rule_set"))


async def save_subjects_and_grades(conn: AsyncConnection, schema: str, grades: Sequence[GradeWrite]) -> None:
    """`save_subjects` and each subject's grade under its rule set (the subject's kind is the grade's), one
    executemany for a poll."""
    if not grades:
        return
    await conn.execute(
        sql(
            f"WITH subject AS (INSERT INTO {schema}.subjects (code, kind, name) VALUES (:code, :subject_kind, :name) "
            "ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name) "
            f"INSERT INTO {schema}.grades ({_WRITTEN}) VALUES ({_VALUES}) "
            f"ON CONFLICT (code, rule_set) DO UPDATE SET {_UPDATES}"
        ),
        [{**_grade_params(write), "name": write.name} for write in grades],
    )


async def due_for_review(conn: AsyncConnection, schema: str, *, rule_set: str, today: date, limit: int) -> list[str]:
    """Subjects whose grade under `rule_set` may have changed by `today` with no new record."""
    rows = await conn.execute(
        sql(
            f"SELECT code FROM {schema}.grades WHERE rule_set = :rs AND review_on IS NOT NULL "
            "AND review_on <= :today ORDER BY review_on, code LIMIT :n"
        ),
        {"rs": rule_set, "today": today, "n": limit},
    )
    return [row.code for row in rows]


async def all_grades(conn: AsyncConnection, schema: str) -> list[StoredGrade]:
    """Every stored grade, ordered (for rebuild comparisons and audits)."""
    rows = await conn.execute(sql(f"SELECT {_COLUMNS} FROM {schema}.grades ORDER BY code, rule_set"))
    return [_grade(row._mapping) for row in rows]


def _grade(row: Any) -> StoredGrade:
    return StoredGrade(**{name: row[name] for name in _COLUMNS.split(", ")})


class Stamp(NamedTuple):
    """Which records a subject's state was derived from: their count, highest `seq` and the sum of
    `hashtext('<department>/<record id>')` over them (as `SubjectFiles` checks a kept file)."""

    records: int
    seq: int
    keys: int


class KeptState(NamedTuple):
    stamp: Stamp
    state: bytes


async def load_states(conn: AsyncConnection, schema: str, codes: Sequence[str]) -> dict[str, KeptState]:
    """The subjects' kept grading states (`rules.subject_state`, encoded) with their stamps."""
    rows = await conn.execute(
        sql(
            f"SELECT code, record_count, max_seq, key_sum, state FROM {schema}.subject_state "
            "WHERE code = ANY(CAST(:codes AS text[]))"
        ),
        {"codes": list(codes)},
    )
    return {r.code: KeptState(Stamp(r.record_count, r.max_seq, r.key_sum), bytes(r.state)) for r in rows}


async def records_after(
    conn: AsyncConnection, schema: str, after: dict[str, int]
) -> tuple[dict[str, list[tuple[int, int, AcceptedRecord]]], dict[str, Stamp]]:
    """Per subject, its records whose `seq` is above `after[code]` as (seq, key hash, record), in `seq`
    order, and the stamp of all its records now, in one round trip (a subject with no records has no stamp)."""
    rows = await conn.execute(
        sql(
            "WITH w AS (SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:after AS bigint[])) AS w(code, after)) "
            "SELECT r.subject_code AS code, r.seq, r.record, r.receipt, "
            "CAST(hashtext(r.department || '/' || r.record_id) AS bigint) AS keys, CAST(NULL AS bigint) AS n "
            f"FROM w JOIN {schema}.records r ON r.subject_code = w.code AND r.seq > w.after "
            "UNION ALL SELECT subject_code, max(seq), NULL, NULL, "
            "sum(hashtext(department || '/' || record_id)), count(*) "
            f"FROM {schema}.records WHERE subject_code = ANY(CAST(:codes AS text[])) GROUP BY subject_code"
        ),
        {"codes": list(after), "after": list(after.values())},
    )
    added: dict[str, list[tuple[int, int, AcceptedRecord]]] = {}
    stamps: dict[str, Stamp] = {}
    for row in rows:
        if row.n is not None:
            stamps[row.code] = Stamp(row.n, row.seq, row.keys)
        else:
            added.setdefault(row.code, []).append((row.seq, row.keys, record_from_row(row.record, row.receipt)))
    for records in added.values():
        records.sort(key=lambda r: r[0])
    return added, stamps


async def stamps(conn: AsyncConnection, schema: str, codes: Sequence[str]) -> dict[str, Stamp]:
    """The stamp of each subject's records as the transaction sees them now."""
    if not codes:
        return {}
    rows = await conn.execute(
        sql(
            "SELECT subject_code AS code, count(*) AS n, max(seq) AS seq, "
            "sum(hashtext(department || '/' || record_id)) AS keys "
            f"FROM {schema}.records WHERE subject_code = ANY(CAST(:codes AS text[])) GROUP BY subject_code"
        ),
        {"codes": list(codes)},
    )
    return {r.code: Stamp(r.n, r.seq, r.keys) for r in rows}


async def save_states(
    conn: AsyncConnection, schema: str, states: Sequence[tuple[str, Stamp, bytes]], dropped: Sequence[str]
) -> None:
    """Write subjects' states (one executemany) and delete those of `dropped` (one statement)."""
    if states:
        await conn.execute(
            sql(
                f"INSERT INTO {schema}.subject_state (code, record_count, max_seq, key_sum, state) "
                "VALUES (:code, :n, :seq, :keys, :state) ON CONFLICT (code) DO UPDATE SET "
                "record_count = EXCLUDED.record_count, max_seq = EXCLUDED.max_seq, key_sum = EXCLUDED.key_sum, "
                "state = EXCLUDED.state"
            ),
            [
                {"code": code, "n": stamp.records, "seq": stamp.seq, "keys": stamp.keys, "state": state}
                for code, stamp, state in states
            ],
        )
    if dropped:
        await conn.execute(
            sql(f"DELETE FROM {schema}.subject_state WHERE code = ANY(CAST(:codes AS text[]))"),
            {"codes": list(dropped)},
        )
