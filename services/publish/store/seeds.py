"""Cases seeded by `exchange audit replay` from their *filed* events (publish's manifest, replay_seeds).

The portal files a case with what never leaves the service (an objection's reason and contact, a repair's
commitment); the topics carry only its filing, so a rebuilt case holds a placeholder there, and that is not
compared. Each function takes the schema, so a rebuild names where it writes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql

NOT_ON_THE_TOPICS = "(not on the topics)"


async def seed_filed_objection(
    conn: AsyncConnection, schema: str, data: dict[str, Any], *, due: date, provisional: bool
) -> None:
    await conn.execute(
        sql(
            f"INSERT INTO {schema}.objections (id, public_id, department, record_id, subject_code, raised_by, "
            "reason, contact, state, filed_at, due_date, due_provisional) VALUES (:id, :pid, :d, :r, :s, :x, :x, "
            ":x, 'verifying', :at, :due, :provisional) ON CONFLICT (id) DO NOTHING"
        ),
        {
            "id": data["objection_id"],
            "pid": f"{data['department']}.{data['record_id']}",
            "d": data["department"],
            "r": data["record_id"],
            "s": data["subject_code"],
            "x": NOT_ON_THE_TOPICS,
            "at": datetime.fromisoformat(str(data["filed_at"])),
            "due": due,
            "provisional": provisional,
        },
    )


async def seed_filed_repair(conn: AsyncConnection, schema: str, data: dict[str, Any]) -> None:
    await conn.execute(
        sql(
            f"INSERT INTO {schema}.repairs (id, public_id, department, record_id, subject_code, raised_by, "
            "commitment, fulfilment, contact, state, filed_at, accept_due, decide_due, due_provisional) VALUES "
            "(:id, :pid, :d, :r, :s, :x, :x, :x, :x, 'submitted', :at, :accept, :decide, :provisional) "
            "ON CONFLICT (id) DO NOTHING"
        ),
        {
            "id": data["repair_id"],
            "pid": f"{data['department']}.{data['record_id']}",
            "d": data["department"],
            "r": data["record_id"],
            "s": data["subject_code"],
            "x": NOT_ON_THE_TOPICS,
            "at": datetime.fromisoformat(str(data["filed_at"])),
            "accept": date.fromisoformat(data["accept_due"]),
            "decide": date.fromisoformat(data["decide_due"]),
            "provisional": bool(data.get("due_provisional", False)),
        },
    )


async def records_with_objections(conn: AsyncConnection, schema: str) -> list[tuple[str, str]]:
    """(department, record id) of every record an objection was filed against."""
    rows = await conn.execute(sql(f"SELECT DISTINCT department, record_id FROM {schema}.objections"))
    return [(str(d), str(r)) for d, r in rows.all()]
