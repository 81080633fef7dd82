"""Objection cases (publish.objections)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql


async def insert_objection(conn: AsyncConnection, schema: str, case: dict[str, Any]) -> None:
    columns = ", ".join(case)
    values = ", ".join(f":{name}" for name in case)
    await conn.execute(sql(f"INSERT INTO {schema}.objections ({columns}) VALUES ({values})"), case)


async def objection(conn: AsyncConnection, schema: str, objection_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(sql(f"SELECT * FROM {schema}.objections WHERE id = :i"), {"i": objection_id})).first()
    return None if row is None else dict(row._mapping)


async def answer_objection(
    conn: AsyncConnection, schema: str, objection_id: str, **answer: Any
) -> dict[str, Any] | None:
    """Record the provider's answer on an objection still awaiting it; None when it was answered already."""
    row = (
        await conn.execute(
            sql(
                f"UPDATE {schema}.objections SET state = :state, outcome = :outcome, explanation = :explanation, "
                "verification_id = :verification_id, answered_at = :answered_at, resolved_at = :resolved_at, "
                "resolved_by = :resolved_by WHERE id = :i AND state IN ('verifying', 'escalated') RETURNING *"
            ),
            {"i": objection_id, **answer},
        )
    ).first()
    return None if row is None else dict(row._mapping)


async def resolve_upheld(
    conn: AsyncConnection, schema: str, department: str, record_id: str, *, by: str, now: datetime
) -> int:
    """Close upheld objections of a record once its correction or revocation has arrived."""
    result = await conn.execute(
        sql(
            f"UPDATE {schema}.objections SET state = 'resolved', resolved_at = :now, resolved_by = :by "
            "WHERE department = :d AND record_id = :r AND state = 'upheld'"
        ),
        {"d": department, "r": record_id, "by": by, "now": now},
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def refresh_objection_flag(conn: AsyncConnection, schema: str, department: str, record_id: str) -> None:
    await conn.execute(
        sql(
            f"UPDATE {schema}.disclosures SET objection_pending = EXISTS (SELECT 1 FROM {schema}.objections o "
            "WHERE o.department = :d AND o.record_id = :r AND o.state IN ('verifying', 'escalated', 'upheld')) "
            "WHERE department = :d AND record_id = :r"
        ),
        {"d": department, "r": record_id},
    )


async def escalate_overdue(conn: AsyncConnection, schema: str, today: date, now: datetime) -> list[dict[str, Any]]:
    """Mark unanswered objections whose (final) due date has passed as escalated; returns them.

    Rows another transaction holds (an answer being applied) are skipped, never waited for: no deadlock
    with the consumer, and the next tick looks again.
    """
    rows = await conn.execute(
        sql(
            f"UPDATE {schema}.objections SET state = 'escalated', escalated_at = :now WHERE id IN (SELECT id FROM "
            f"{schema}.objections WHERE state = 'verifying' AND NOT due_provisional AND due_date < :t "
            "FOR UPDATE SKIP LOCKED) RETURNING *"
        ),
        {"t": today, "now": now},
    )
    return [dict(r._mapping) for r in rows]


async def provisional_objections(conn: AsyncConnection, schema: str) -> list[tuple[str, datetime]]:
    rows = await conn.execute(
        sql(f"SELECT id, filed_at FROM {schema}.objections WHERE due_provisional AND state = 'verifying'")
    )
    return [(r.id, r.filed_at) for r in rows]


async def set_objection_due(
    conn: AsyncConnection, schema: str, objection_id: str, due: date, provisional: bool
) -> None:
    await conn.execute(
        sql(f"UPDATE {schema}.objections SET due_date = :d, due_provisional = :p WHERE id = :i"),
        {"i": objection_id, "d": due, "p": provisional},
    )


async def objections_of(
    conn: AsyncConnection, schema: str, *, department: str | None, open_only: bool, limit: int
) -> list[dict[str, Any]]:
    """Objections to one provider's records (or all), the soonest due first."""
    where = ["TRUE"]
    if department is not None:
        where.append("department = :d")
    if open_only:
        where.append("state IN ('verifying', 'escalated', 'upheld')")
    rows = await conn.execute(
        sql(f"SELECT * FROM {schema}.objections WHERE {' AND '.join(where)} ORDER BY due_date, filed_at, id LIMIT :n"),
        {"d": department, "n": limit},
    )
    return [dict(r._mapping) for r in rows]
