"""SQL of the bridge (schema `bridge`). Delivery state lives here, so a crash loses nothing: a delivery is
`pending` until a 2xx answer is recorded; one sent but not yet recorded when the process died goes again
after its lease (the receiver drops the repeat by its `webhook-id`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql
from services.publish.store.feed import FeedCursor

SCHEMA = "bridge"
__all__ = ["SCHEMA", "FeedCursor"]


# -- the unified feed --------------------------------------------------------------------------------


async def append_feed(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(
            sql(
                "INSERT INTO bridge.feed (event_id, type, family, subject, departments, time, source, data) "
                "VALUES (:id, :type, :family, :subject, :departments, :time, :source, CAST(:data AS jsonb)) "
                "ON CONFLICT (event_id) DO NOTHING"
            ),
            rows,
        )


async def feed_page(
    conn: AsyncConnection,
    after: FeedCursor | None,
    limit: int,
    *,
    types: list[str],
    families: list[str],
    department: str | None,
) -> list[dict[str, Any]]:
    """As publish's feed (services/publish/store/feed.py): only rows of transactions older than every
    running one, in (txid, position) order: no gaps, no duplicates, a cursor always gives the same page."""
    filters = ""
    if types or families:
        filters += " AND (type = ANY(:types) OR family = ANY(:families))"
    if department is not None:
        filters += " AND :department = ANY(departments)"
    rows = await conn.execute(
        sql(
            "SELECT txid::text AS txid, position, event_id, type, source, subject, departments, time, data "
            "FROM bridge.feed WHERE txid < pg_snapshot_xmin(pg_current_snapshot()) "
            "AND (txid, position) > (CAST(CAST(:t AS text) AS xid8), :p)" + filters + " "
            "ORDER BY feed.txid, feed.position LIMIT :n"
        ),
        {
            "t": str(after.txid if after else 0),
            "p": after.position if after else 0,
            "n": limit,
            "types": types,
            "families": families,
            "department": department,
        },
    )
    return [dict(r._mapping) for r in rows]


# -- subscriptions -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    role: str
    department: str | None
    types: list[str]


async def fanout_subscriptions(conn: AsyncConnection) -> list[Subscription]:
    """Subscriptions that collect deliveries (a paused one too: it catches up when resumed)."""
    rows = await conn.execute(
        sql("SELECT id, role, department, types FROM bridge.subscriptions WHERE state IN ('active', 'paused')")
    )
    return [Subscription(r.id, r.role, r.department, list(r.types)) for r in rows]


async def insert_deliveries(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(
            sql(
                "INSERT INTO bridge.deliveries (subscription_id, event_id, subject, created_at, next_attempt_at) "
                "VALUES (:sub, :event, :subject, :now, :now) ON CONFLICT (subscription_id, event_id) DO NOTHING"
            ),
            rows,
        )


SUBSCRIPTION_COLUMNS = "id, role, department, url, types, state, paused_reason, paused_at, created_at"


async def create_subscription(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(
        sql(
            "INSERT INTO bridge.subscriptions (id, credential_id, role, department, url, types, secret, created_at) "
            "VALUES (:id, :credential_id, :role, :department, :url, :types, :secret, :created_at)"
        ),
        values,
    )


async def list_subscriptions(conn: AsyncConnection, owner: tuple[str, str | None] | None) -> list[dict[str, Any]]:
    where, params = "state <> 'deleted'", {}
    if owner is not None:
        where += " AND role = :role AND department IS NOT DISTINCT FROM :department"
        params = {"role": owner[0], "department": owner[1]}
    rows = await conn.execute(
        sql(f"SELECT {SUBSCRIPTION_COLUMNS} FROM bridge.subscriptions WHERE {where} ORDER BY created_at, id"),
        params,
    )
    return [dict(r._mapping) for r in rows]


async def get_subscription(conn: AsyncConnection, sub_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sql(f"SELECT {SUBSCRIPTION_COLUMNS} FROM bridge.subscriptions WHERE id = :id AND state <> 'deleted'"),
            {"id": sub_id},
        )
    ).first()
    return dict(row._mapping) if row else None


async def set_subscription_state(conn: AsyncConnection, sub_id: str, state: str, now: datetime) -> None:
    if state == "active":
        # Resumed: what waited is due now, and the failure window starts again.
        await conn.execute(
            sql(
                "UPDATE bridge.deliveries SET next_attempt_at = :now, first_failed_at = NULL "
                "WHERE subscription_id = :id AND state = 'pending'"
            ),
            {"id": sub_id, "now": now},
        )
    await conn.execute(
        sql("UPDATE bridge.subscriptions SET state = :state, paused_reason = NULL, paused_at = NULL WHERE id = :id"),
        {"id": sub_id, "state": state},
    )


async def delivery_counts(conn: AsyncConnection, sub_id: str) -> dict[str, int]:
    rows = await conn.execute(
        sql("SELECT state, count(*) AS n FROM bridge.deliveries WHERE subscription_id = :id GROUP BY state"),
        {"id": sub_id},
    )
    return {r.state: int(r.n) for r in rows}


async def deliveries_of(
    conn: AsyncConnection, sub_id: str, *, state: str | None, after: int, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sql(
            "SELECT d.id, d.event_id, f.type, d.subject, d.state, d.attempts, d.created_at, d.next_attempt_at, "
            "d.last_status, d.last_error, d.delivered_at, "
            "COALESCE((SELECT jsonb_agg(jsonb_build_object('n', a.n, 'at', a.at, 'status', a.status, "
            "'error', a.error, 'duration_ms', a.duration_ms) ORDER BY a.n) "
            "FROM bridge.attempts a WHERE a.delivery_id = d.id), '[]'::jsonb) AS attempt_log "
            "FROM bridge.deliveries d JOIN bridge.feed f ON f.event_id = d.event_id "
            "WHERE d.subscription_id = :id AND d.id > :after AND (CAST(:state AS text) IS NULL OR d.state = :state) "
            "ORDER BY d.id LIMIT :n"
        ),
        {"id": sub_id, "after": after, "state": state, "n": limit},
    )
    return [dict(r._mapping) for r in rows]


async def alerts_of(conn: AsyncConnection, sub_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sql("SELECT at, kind, message FROM bridge.alerts WHERE subscription_id = :id ORDER BY id"), {"id": sub_id}
    )
    return [dict(r._mapping) for r in rows]


# -- webhook dispatch ---------------------------------------------------------------------------------


async def claim_deliveries(conn: AsyncConnection, now: datetime, lease_until: datetime, limit: int) -> list[Any]:
    """Lease up to `limit` due deliveries, each the oldest pending one of its (subscription, subject): the
    next event about a subject waits until the previous one is delivered (order per subject).

    The walk goes through the pending deliveries in id order (index `deliveries_pending_id`) and keeps a
    row only when no older pending row of its queue exists (a probe of `deliveries_pending`), so a claim
    reads about as many rows as it leases instead of every pending row. `FOR UPDATE SKIP LOCKED` lets
    replicas claim side by side without waiting, and the lease (re-checked under the lock) keeps a
    delivery from being sent twice at once. `data` comes as JSON text: it is the request's body as it is."""
    rows = await conn.execute(
        sql(
            "WITH due AS (SELECT d.id FROM bridge.deliveries d JOIN bridge.subscriptions s "
            "ON s.id = d.subscription_id AND s.state = 'active' "
            "WHERE d.state = 'pending' AND d.next_attempt_at <= :now "
            "AND (d.lease_until IS NULL OR d.lease_until < :now) "
            "AND NOT EXISTS (SELECT 1 FROM bridge.deliveries p WHERE p.state = 'pending' "
            "AND p.subscription_id = d.subscription_id AND p.subject = d.subject AND p.id < d.id) "
            "ORDER BY d.id LIMIT :n FOR UPDATE OF d SKIP LOCKED) "
            "UPDATE bridge.deliveries d SET lease_until = :lease FROM due, bridge.feed f, bridge.subscriptions s "
            "WHERE d.id = due.id AND f.event_id = d.event_id AND s.id = d.subscription_id "
            "RETURNING d.id, d.subscription_id, d.attempts, d.first_failed_at, d.event_id, f.type, f.source, "
            "f.subject, f.time, CAST(f.data AS text) AS data, s.url, s.secret"
        ),
        {"now": now, "lease": lease_until, "n": limit},
    )
    return list(rows)


async def record_attempts(conn: AsyncConnection, delivered: list[dict[str, Any]], failed: list[dict[str, Any]]) -> None:
    """One statement per kind for a whole batch of outcomes (arrays through unnest, not one UPDATE per
    delivery: the writer keeps up with thousands of deliveries a second)."""
    if delivered:
        await conn.execute(
            sql(
                "UPDATE bridge.deliveries d SET state = 'delivered', attempts = d.attempts + 1, delivered_at = u.at, "
                "last_status = u.status, last_error = NULL, lease_until = NULL "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:ats AS timestamptz[]), CAST(:statuses AS integer[])) "
                "AS u(id, at, status) WHERE d.id = u.id"
            ),
            {
                "ids": [r["id"] for r in delivered],
                "ats": [r["at"] for r in delivered],
                "statuses": [r["status"] for r in delivered],
            },
        )
    if failed:
        await conn.execute(
            sql(
                "UPDATE bridge.deliveries d SET attempts = d.attempts + 1, next_attempt_at = u.next, "
                "first_failed_at = COALESCE(d.first_failed_at, u.at), last_status = u.status, last_error = u.error, "
                "lease_until = NULL FROM unnest(CAST(:ids AS bigint[]), CAST(:ats AS timestamptz[]), "
                "CAST(:statuses AS integer[]), CAST(:errors AS text[]), CAST(:nexts AS timestamptz[])) "
                "AS u(id, at, status, error, next) WHERE d.id = u.id"
            ),
            {
                "ids": [r["id"] for r in failed],
                "ats": [r["at"] for r in failed],
                "statuses": [r["status"] for r in failed],
                "errors": [r["error"] for r in failed],
                "nexts": [r["next"] for r in failed],
            },
        )
    attempts = [*delivered, *failed]
    if attempts:
        await conn.execute(
            sql(
                "INSERT INTO bridge.attempts (delivery_id, n, at, status, error, duration_ms) "
                "SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:ns AS integer[]), CAST(:ats AS timestamptz[]), "
                "CAST(:statuses AS integer[]), CAST(:errors AS text[]), CAST(:durations AS integer[])) "
                "ON CONFLICT DO NOTHING"
            ),
            {
                "ids": [r["id"] for r in attempts],
                "ns": [r["n"] for r in attempts],
                "ats": [r["at"] for r in attempts],
                "statuses": [r["status"] for r in attempts],
                "errors": [r["error"] for r in attempts],
                "durations": [r["duration_ms"] for r in attempts],
            },
        )


async def pause(conn: AsyncConnection, sub_id: str, now: datetime, reason: str) -> bool:
    """Pause an active subscription and write its alert; False when it was not active."""
    row = (
        await conn.execute(
            sql(
                "UPDATE bridge.subscriptions SET state = 'paused', paused_reason = :reason, paused_at = :now "
                "WHERE id = :id AND state = 'active' RETURNING id"
            ),
            {"id": sub_id, "now": now, "reason": reason},
        )
    ).first()
    if row is None:
        return False
    await conn.execute(
        sql("INSERT INTO bridge.alerts (subscription_id, at, kind, message) VALUES (:id, :now, 'paused', :reason)"),
        {"id": sub_id, "now": now, "reason": reason},
    )
    return True


# -- the province --------------------------------------------------------------------------------------


async def insert_province(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(
            sql(
                "INSERT INTO bridge.province (event_id, action, record_type, department, record_id, subject, "
                "event_date, due_date, payload, next_attempt_at) VALUES (:event_id, :action, :record_type, "
                ":department, :record_id, :subject, :event_date, :due_date, CAST(:payload AS jsonb), :now) "
                "ON CONFLICT (event_id) DO NOTHING"
            ),
            [{**r, "payload": orjson.dumps(r["payload"]).decode()} for r in rows],
        )


async def claim_province(conn: AsyncConnection, now: datetime, lease_until: datetime, limit: int) -> list[Any]:
    rows = await conn.execute(
        sql(
            "UPDATE bridge.province p SET lease_until = :lease FROM (SELECT event_id FROM bridge.province "
            "WHERE state = 'pending' AND next_attempt_at <= :now AND (lease_until IS NULL OR lease_until < :now) "
            "ORDER BY seq LIMIT :n FOR UPDATE SKIP LOCKED) due WHERE p.event_id = due.event_id "
            "RETURNING p.event_id, p.attempts, p.payload, p.seq"
        ),
        {"now": now, "lease": lease_until, "n": limit},
    )
    return sorted(rows, key=lambda r: r.seq)


async def province_answered(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(
            sql(
                "UPDATE bridge.province SET state = :state, attempts = attempts + 1, sent_at = COALESCE(sent_at, :at), "
                "answered_at = :at, answer = :answer, last_error = NULL, lease_until = NULL "
                "WHERE event_id = :id AND state = 'pending'"
            ),
            rows,
        )


async def province_failed(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(
            sql(
                "UPDATE bridge.province SET attempts = attempts + 1, next_attempt_at = :next, last_error = :error, "
                "lease_until = NULL WHERE event_id = :id AND state = 'pending'"
            ),
            rows,
        )


async def province_day(conn: AsyncConnection, day: date) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sql(
            "SELECT event_id, action, record_type, department, record_id, state, attempts, due_date, answered_at, "
            "last_error, answer, payload FROM bridge.province WHERE event_date = :day ORDER BY seq"
        ),
        {"day": day},
    )
    return [dict(r._mapping) for r in rows]


async def province_deadlines(conn: AsyncConnection, through: date) -> list[dict[str, Any]]:
    """Every withdrawal due by `through` (inclusive) with when it was answered (None: not yet)."""
    rows = await conn.execute(
        sql(
            "SELECT event_id, action, record_type, department, record_id, event_date, due_date, state, answered_at "
            "FROM bridge.province WHERE due_date IS NOT NULL AND due_date <= :through ORDER BY due_date, seq"
        ),
        {"through": through},
    )
    return [dict(r._mapping) for r in rows]


SUBSCRIPTION_STATES = ("active", "paused")


async def backlogs(conn: AsyncConnection) -> tuple[dict[str, int], int]:
    """Pending webhook deliveries per subscription state (every state named, 0 included, so a gauge falls
    back to 0) and pending province records."""
    rows = await conn.execute(
        sql(
            "SELECT s.state, count(*) FROM bridge.deliveries d JOIN bridge.subscriptions s "
            "ON s.id = d.subscription_id WHERE d.state = 'pending' AND s.state <> 'deleted' GROUP BY s.state"
        )
    )
    webhooks = dict.fromkeys(SUBSCRIPTION_STATES, 0) | {str(row[0]): int(row[1]) for row in rows}
    province = await conn.scalar(sql("SELECT count(*) FROM bridge.province WHERE state = 'pending'"))
    return webhooks, int(province or 0)


# -- inbound national lists ---------------------------------------------------------------------------


async def insert_inbound(conn: AsyncConnection, file: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    await conn.execute(
        sql(
            "INSERT INTO bridge.inbound_files (id, batch_id, received_at, received_by, rows) "
            "VALUES (:id, :batch_id, :received_at, :received_by, :rows)"
        ),
        file,
    )
    await conn.execute(
        sql(
            "INSERT INTO bridge.inbound_rows (file_id, n, row_id, list, department, record_type, subject, envelope, "
            "state, errors, next_attempt_at, done_at) VALUES (:file_id, :n, :row_id, :list, :department, "
            ":record_type, :subject, CAST(:envelope AS jsonb), :state, CAST(:errors AS jsonb), :now, :done_at)"
        ),
        rows,
    )


async def claim_inbound(conn: AsyncConnection, now: datetime, lease_until: datetime, limit: int) -> list[Any]:
    rows = await conn.execute(
        sql(
            "UPDATE bridge.inbound_rows r SET lease_until = :lease FROM (SELECT file_id, n FROM bridge.inbound_rows "
            "WHERE state = 'pending' AND next_attempt_at <= :now AND (lease_until IS NULL OR lease_until < :now) "
            "ORDER BY next_attempt_at, file_id, n LIMIT :n FOR UPDATE SKIP LOCKED) due "
            "WHERE r.file_id = due.file_id AND r.n = due.n "
            "RETURNING r.file_id, r.n, r.department, r.envelope, r.attempts"
        ),
        {"now": now, "lease": lease_until, "n": limit},
    )
    return sorted(rows, key=lambda r: (r.file_id, r.n))


async def inbound_answered(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(
            sql(
                "UPDATE bridge.inbound_rows SET state = :state, receipt = CAST(:receipt AS jsonb), "
                "errors = CAST(:errors AS jsonb), attempts = attempts + 1, done_at = :at, last_error = NULL, "
                "lease_until = NULL WHERE file_id = :file_id AND n = :n AND state = 'pending'"
            ),
            rows,
        )


async def inbound_failed(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(
            sql(
                "UPDATE bridge.inbound_rows SET attempts = attempts + 1, next_attempt_at = :next, "
                "last_error = :error, lease_until = NULL WHERE file_id = :file_id AND n = :n AND state = 'pending'"
            ),
            rows,
        )


async def inbound_file(conn: AsyncConnection, file_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    head = (
        await conn.execute(
            sql("SELECT id, batch_id, received_at, received_by, rows FROM bridge.inbound_files WHERE id = :id"),
            {"id": file_id},
        )
    ).first()
    if head is None:
        return None
    rows = await conn.execute(
        sql(
            "SELECT n, row_id, list, department, record_type, subject, state, receipt, errors, attempts, last_error, "
            "done_at FROM bridge.inbound_rows WHERE file_id = :id ORDER BY n"
        ),
        {"id": file_id},
    )
    return dict(head._mapping), [dict(r._mapping) for r in rows]


async def inbound_files(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sql(
            "SELECT f.id, f.batch_id, f.received_at, f.received_by, f.rows, "
            "COALESCE((SELECT jsonb_object_agg(state, n) FROM (SELECT state, count(*) AS n FROM bridge.inbound_rows "
            "WHERE file_id = f.id GROUP BY state) c), '{}'::jsonb) AS counts "
            "FROM bridge.inbound_files f ORDER BY f.received_at DESC, f.id LIMIT :n"
        ),
        {"n": limit},
    )
    return [dict(r._mapping) for r in rows]


# -- repair applications forwarded by 信用中国 -----------------------------------------------------------


async def get_forward(conn: AsyncConnection, reference: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sql(
                "SELECT reference, repair_id, record_id, subject, received_at, state, answer "
                "FROM bridge.repair_forwards WHERE reference = :ref"
            ),
            {"ref": reference},
        )
    ).first()
    return dict(row._mapping) if row else None


async def put_forward(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Keep a forwarded application's outcome; a refused one may be forwarded again (and then filed)."""
    await conn.execute(
        sql(
            "INSERT INTO bridge.repair_forwards (reference, repair_id, record_id, subject, received_at, state, answer) "
            "VALUES (:reference, :repair_id, :record_id, :subject, :received_at, :state, CAST(:answer AS jsonb)) "
            "ON CONFLICT (reference) DO UPDATE SET repair_id = EXCLUDED.repair_id, state = EXCLUDED.state, "
            "answer = EXCLUDED.answer, received_at = EXCLUDED.received_at "
            "WHERE bridge.repair_forwards.state = 'refused'"
        ),
        {**values, "answer": orjson.dumps(values["answer"]).decode()},
    )


async def lock_repairs(conn: AsyncConnection, repair_ids: list[str]) -> None:
    """Serialise, per repair id, the consumer's "is this answer's application forwarded?" with the API's
    "which answers were already seen?" (both until their transaction ends): whichever commits second sees
    the other's row, so an answer is sent back whether it arrives before or after the forward row."""
    for repair_id in sorted(set(repair_ids)):  # one order everywhere: no deadlock between the two sides
        await conn.execute(
            sql("SELECT pg_advisory_xact_lock(hashtextextended('bridge.repair:' || :id, 0))"), {"id": repair_id}
        )


async def answers_seen(conn: AsyncConnection, repair_id: str) -> list[dict[str, Any]]:
    """The county's answers on one repair already in the feed (index `feed_repair_answers`)."""
    rows = await conn.execute(
        sql(
            "SELECT event_id, subject, time, data FROM bridge.feed "
            "WHERE type = 'cn.credit.repair.answered' AND data ->> 'repair_id' = :id ORDER BY txid, position"
        ),
        {"id": repair_id},
    )
    return [dict(r._mapping) for r in rows]


async def forwarded_repairs(conn: AsyncConnection, repair_ids: list[str]) -> dict[str, str]:
    """repair id → 信用中国 reference, for the applications that came through the bridge."""
    if not repair_ids:
        return {}
    rows = await conn.execute(
        sql("SELECT repair_id, reference FROM bridge.repair_forwards WHERE repair_id = ANY(:ids)"),
        {"ids": repair_ids},
    )
    return {r.repair_id: r.reference for r in rows}


async def repair_answers(conn: AsyncConnection, repair_id: str) -> list[dict[str, Any]]:
    """The county's answers on one forwarded application as sent back to the province, with their state."""
    rows = await conn.execute(
        sql(
            "SELECT event_id, payload, state, attempts, answered_at, last_error, answer FROM bridge.province "
            "WHERE record_type = 'credit_repair' AND record_id = :id ORDER BY seq"
        ),
        {"id": repair_id},
    )
    return [dict(r._mapping) for r in rows]
