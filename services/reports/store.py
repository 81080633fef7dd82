"""SQL of the reports service (schema `reports`): consumed outcome events, issued reports, batch checks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql
from services.common.envelope import dumps
from services.common.records import AcceptedRecord, records_of_subjects
from services.reports.rules.view import Outcome

SCHEMA = "reports"


async def store_outcomes(conn: AsyncConnection, schema: str, outcomes: Sequence[Outcome]) -> None:
    if not outcomes:
        return
    await conn.execute(
        sql(
            f"INSERT INTO {schema}.outcomes (event_id, kind, subject_code, time, data) "
            "SELECT * FROM unnest(CAST(:i AS text[]), CAST(:k AS text[]), CAST(:s AS text[]), "
            "CAST(:t AS timestamptz[]), CAST(:d AS jsonb[])) ON CONFLICT (event_id) DO NOTHING"
        ),
        {
            "i": [o.event_id for o in outcomes],
            "k": [o.kind for o in outcomes],
            "s": [o.subject for o in outcomes],
            "t": [o.time for o in outcomes],
            "d": [dumps(dict(o.data)).decode() for o in outcomes],
        },
    )


async def files_of(
    conn: AsyncConnection, schema: str, codes: Sequence[str]
) -> tuple[dict[str, list[AcceptedRecord]], dict[str, list[Outcome]]]:
    """Records and outcome events of several subjects, two round trips whatever their number."""
    records = await records_of_subjects(conn, schema, codes)
    rows = await conn.execute(
        sql(
            f"SELECT event_id, kind, subject_code, time, data FROM {schema}.outcomes "
            "WHERE subject_code = ANY(CAST(:codes AS text[]))"
        ),
        {"codes": list(codes)},
    )
    outcomes: dict[str, list[Outcome]] = {}
    for r in rows:
        outcomes.setdefault(r.subject_code, []).append(Outcome(r.event_id, r.kind, r.subject_code, r.time, r.data))
    return records, outcomes


async def next_number(conn: AsyncConnection, schema: str, sequence: str) -> int:
    return int((await conn.execute(sql(f"SELECT nextval('{schema}.{sequence}')"))).scalar_one())


async def save_report(conn: AsyncConnection, schema: str, row: dict[str, Any]) -> str | None:
    """Insert an issued report; the earlier report of the same subject, requester, kind and matter (if any,
    not yet superseded) is superseded by it. Returns the superseded number."""
    previous = (
        await conn.execute(
            sql(
                f"UPDATE {schema}.reports SET superseded_by = :number WHERE subject_code = :code AND requester = "
                ":requester AND kind = :kind AND matter IS NOT DISTINCT FROM :matter AND superseded_by IS NULL "
                "RETURNING number"
            ),
            {
                "number": row["number"],
                "code": row["subject_code"],
                "requester": row["requester"],
                "kind": row["kind"],
                "matter": row["matter"],
            },
        )
    ).scalar_one_or_none()
    await conn.execute(
        sql(
            f"INSERT INTO {schema}.reports (number, kind, subject_code, requester, credential_id, matter, purpose, "
            "as_of, issued_at, valid_until, content, content_digest, signature, key_id, html, pdf, html_sha256, "
            "pdf_sha256) VALUES (:number, :kind, :subject_code, :requester, :credential_id, :matter, :purpose, "
            ":as_of, :issued_at, :valid_until, CAST(:content AS jsonb), :content_digest, :signature, :key_id, "
            ":html, :pdf, :html_sha256, :pdf_sha256)"
        ),
        {**row, "content": dumps(row["content"]).decode()},
    )
    return str(previous) if previous is not None else None


async def load_report(conn: AsyncConnection, schema: str, number: str) -> Any:
    return (await conn.execute(sql(f"SELECT * FROM {schema}.reports WHERE number = :n"), {"n": number})).one_or_none()


async def save_check(conn: AsyncConnection, schema: str, row: dict[str, Any]) -> None:
    await conn.execute(
        sql(
            f"INSERT INTO {schema}.checks (number, department, credential_id, role, matter, purpose, as_of, at, "
            "codes, answers) VALUES (:number, :department, :credential_id, :role, :matter, :purpose, :as_of, :at, "
            ":codes, CAST(:answers AS jsonb))"
        ),
        {**row, "answers": dumps(row["answers"]).decode()},
    )


async def load_check(conn: AsyncConnection, schema: str, number: str) -> Any:
    return (await conn.execute(sql(f"SELECT * FROM {schema}.checks WHERE number = :n"), {"n": number})).one_or_none()


async def scorecard(conn: AsyncConnection, schema: str, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """Per department: batch checks, codes checked, reports issued in [start, end)."""
    counts: dict[str, dict[str, int]] = {}
    rows = await conn.execute(
        sql(
            f"SELECT coalesce(department, role) AS who, count(*) AS n, sum(codes) AS codes FROM {schema}.checks "
            "WHERE at >= :s AND at < :e GROUP BY 1"
        ),
        {"s": start, "e": end},
    )
    for r in rows:
        counts.setdefault(r.who, {"checks": 0, "codes_checked": 0, "reports": 0})
        counts[r.who].update(checks=int(r.n), codes_checked=int(r.codes))
    rows = await conn.execute(
        sql(
            f"SELECT requester AS who, count(*) AS n FROM {schema}.reports "
            "WHERE issued_at >= :s AND issued_at < :e AND kind = 'department' GROUP BY 1"
        ),
        {"s": start, "e": end},
    )
    for r in rows:
        counts.setdefault(r.who, {"checks": 0, "codes_checked": 0, "reports": 0})["reports"] = int(r.n)
    return counts


def as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
