"""The HTTP outcome feed (publish.feed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql
from services.common.envelope import CloudEvent


@dataclass(frozen=True, slots=True)
class FeedCursor:
    """Position in the feed: (transaction id, position). Rows are served in this order."""

    txid: int
    position: int

    def __str__(self) -> str:
        return f"{self.txid}-{self.position}"

    @classmethod
    def parse(cls, value: str) -> FeedCursor | None:
        txid, dash, position = value.partition("-")
        if not dash or not txid.isdigit() or not position.isdigit():
            return None
        return cls(int(txid), int(position))


async def append_feed(conn: AsyncConnection, schema: str, events: list[CloudEvent]) -> None:
    if not events:
        return
    await conn.execute(
        sql(
            f"INSERT INTO {schema}.feed (event_id, type, subject, time, data) "
            "VALUES (:id, :type, :subject, :time, CAST(:data AS jsonb)) ON CONFLICT (event_id) DO NOTHING"
        ),
        [
            {"id": e.id, "type": e.type, "subject": e.subject, "time": e.time, "data": orjson.dumps(e.data).decode()}
            for e in events
        ],
    )


async def feed_page(conn: AsyncConnection, schema: str, after: FeedCursor | None, limit: int) -> list[dict[str, Any]]:
    """Committed feed rows after ``after``, in (txid, position) order, none from a running transaction.

    A sequence is not commit order: a row with a smaller position can commit after a larger one was read.
    Only rows whose transaction is older than every running one (``txid < snapshot xmin``) are served, and
    they are ordered by transaction id first, so a row committed later can never sort before a cursor
    already handed out: no gaps, no duplicates, and the same cursor always returns the same page.
    ``ORDER BY`` names the table's columns: the bare ``txid`` would be the text output column ('1012' <
    '998').
    """
    rows = await conn.execute(
        sql(
            f"SELECT txid::text AS txid, position, event_id, type, subject, time, data FROM {schema}.feed "
            "WHERE txid < pg_snapshot_xmin(pg_current_snapshot()) "
            "AND (txid, position) > (CAST(CAST(:t AS text) AS xid8), :p) ORDER BY feed.txid, feed.position LIMIT :n"
        ),
        {"t": str(after.txid if after else 0), "p": after.position if after else 0, "n": limit},
    )
    return [dict(r._mapping) for r in rows]
