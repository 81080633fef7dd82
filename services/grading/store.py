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
