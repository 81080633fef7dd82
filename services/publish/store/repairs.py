"""Credit-repair cases (publish.repairs)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql

OPEN_STATES = ("submitted", "accepted", "extended")
_OPEN = "state IN ('submitted', 'accepted', 'extended')"


async def insert_repair(conn: AsyncConnection, schema: str, case: dict[str, Any]) -> None:
    columns = ", ".join(case)
    values = ", ".join(f":{name}" for name in case)
    await conn.execute(sql(f"INSERT INTO {schema}.repairs ({columns}) VALUES ({values})"), case)


async def repair(
    conn: AsyncConnection, schema: str, repair_id: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    lock = " FOR UPDATE" if for_update else ""
    row = (await conn.execute(sql(f"SELECT * FROM {schema}.repairs WHERE id = :i{lock}"), {"i": repair_id})).first()
    return None if row is None else dict(row._mapping)


async def open_repair_of(conn: AsyncConnection, schema: str, department: str, record_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sql(f"SELECT * FROM {schema}.repairs WHERE department = :d AND record_id = :r AND {_OPEN}"),
            {"d": department, "r": record_id},
        )
    ).first()
    return None if row is None else dict(row._mapping)


async def update_repair(conn: AsyncConnection, schema: str, repair_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    assignments = ", ".join(f"{name} = :{name}" for name in changes)
    row = (
        await conn.execute(
            sql(f"UPDATE {schema}.repairs SET {assignments} WHERE id = :_id RETURNING *"), {"_id": repair_id, **changes}
        )
    ).one()
    return dict(row._mapping)


async def escalate_late_repairs(
    conn: AsyncConnection, schema: str, today: date, now: datetime
) -> list[tuple[dict[str, Any], str]]:
    """Mark open applications whose acceptance or decision is past due; returns (case, missed step).

    Rows another transaction holds (a decision being applied) are skipped, never waited for.
    """
    escalated: list[tuple[dict[str, Any], str]] = []
    for missed, column, due, states in (
        ("acceptance", "acceptance_escalated_at", "accept_due", "('submitted')"),
        ("decision", "decision_escalated_at", "decide_due", "('submitted', 'accepted', 'extended')"),
    ):
        rows = await conn.execute(
            sql(
                f"UPDATE {schema}.repairs SET {column} = :now WHERE id IN (SELECT id FROM {schema}.repairs "
                f"WHERE state IN {states} AND {column} IS NULL AND NOT due_provisional AND {due} < :t "
                "FOR UPDATE SKIP LOCKED) RETURNING *"
            ),
            {"t": today, "now": now},
        )
        escalated += [(dict(r._mapping), missed) for r in rows]
    return escalated


async def provisional_repairs(conn: AsyncConnection, schema: str) -> list[dict[str, Any]]:
    rows = await conn.execute(sql(f"SELECT * FROM {schema}.repairs WHERE due_provisional AND {_OPEN}"))
    return [dict(r._mapping) for r in rows]


async def repairs_of(
    conn: AsyncConnection, schema: str, *, department: str | None, open_only: bool, limit: int
) -> list[dict[str, Any]]:
    """Repair applications to one deciding department (or all), the soonest due first."""
    where = ["TRUE"]
    if department is not None:
        where.append("department = :d")
    if open_only:
        where.append(_OPEN)
    rows = await conn.execute(
        sql(f"SELECT * FROM {schema}.repairs WHERE {' AND '.join(where)} ORDER BY decide_due, filed_at, id LIMIT :n"),
        {"d": department, "n": limit},
    )
    return [dict(r._mapping) for r in rows]
