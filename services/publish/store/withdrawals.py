"""The withdrawal clock (publish.withdrawals): revoked or changed records taken off the portal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql
from services.publish.withdrawals import Withdrawal


async def save_withdrawals(conn: AsyncConnection, schema: str, withdrawals: Sequence[Withdrawal]) -> None:
    """Keep each withdrawal once (the first time an amendment took its record's content down counts)."""
    if not withdrawals:
        return
    await conn.execute(
        sql(
            f"INSERT INTO {schema}.withdrawals (public_id, amendment_id, department, record_id, record_type, kind, "
            "decided, received_at, due_date, due_provisional, done_at) VALUES (:pid, :aid, :dept, :rid, :type, "
            ":kind, :decided, :received, :due, :provisional, :done) ON CONFLICT (public_id, amendment_id) DO NOTHING"
        ),
        [
            {
                "pid": w.public_id,
                "aid": w.amendment_id,
                "dept": w.department,
                "rid": w.record_id,
                "type": w.record_type,
                "kind": w.kind,
                "decided": w.decided,
                "received": w.received_at,
                "due": w.due.date,
                "provisional": w.due.provisional,
                "done": w.done_at,
            }
            for w in withdrawals
        ],
    )


async def withdrawal_rows(
    conn: AsyncConnection, schema: str, *, department: str | None, since: date
) -> list[dict[str, Any]]:
    """Withdrawals whose revocation or change was decided from ``since``, soonest due first."""
    rows = await conn.execute(
        sql(
            f"SELECT * FROM {schema}.withdrawals WHERE (CAST(:d AS text) IS NULL OR department = :d) "
            "AND decided >= :since ORDER BY due_date, public_id, amendment_id"
        ),
        {"d": department, "since": since},
    )
    return [dict(r._mapping) for r in rows]


async def provisional_withdrawals(conn: AsyncConnection, schema: str) -> list[tuple[str, str, date]]:
    rows = await conn.execute(
        sql(f"SELECT public_id, amendment_id, decided FROM {schema}.withdrawals WHERE due_provisional")
    )
    return [(r.public_id, r.amendment_id, r.decided) for r in rows]


async def set_withdrawal_due(conn: AsyncConnection, schema: str, public_id: str, amendment_id: str, due: date) -> None:
    await conn.execute(
        sql(
            f"UPDATE {schema}.withdrawals SET due_date = :due, due_provisional = false "
            "WHERE public_id = :pid AND amendment_id = :aid"
        ),
        {"due": due, "pid": public_id, "aid": amendment_id},
    )
