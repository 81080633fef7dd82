"""All SQL of the ingest service. Functions run inside a transaction their caller owns; none commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql
from services.ingest.receipts import GENESIS

SCHEMA = "ingest"


@dataclass(frozen=True, slots=True)
class StoredRecord:
    department: str
    record_id: str
    record_type: str
    version: int
    subject_code: str
    content_hash: bytes
    receipt: dict[str, Any]


@dataclass
class ChainHead:
    department: str
    seq: int
    head_hash: str


async def lock_chains(conn: AsyncConnection, departments: Iterable[str]) -> dict[str, ChainHead]:
    """Lock each department's receipt chain head (creating it on first use) until the transaction ends.

    Locks are taken in sorted order so two writers never deadlock.
    """
    names = sorted(set(departments))
    await conn.execute(
        sql(
            "INSERT INTO ingest.chains (department, seq, head_hash) "
            "SELECT d, 0, :genesis FROM unnest(CAST(:names AS text[])) AS d ON CONFLICT DO NOTHING"
        ),
        {"names": names, "genesis": GENESIS},
    )
    rows = await conn.execute(
        sql(
            "SELECT department, seq, head_hash FROM ingest.chains WHERE department = ANY(:names) "
            "ORDER BY department FOR UPDATE"
        ),
        {"names": names},
    )
    return {r.department: ChainHead(r.department, r.seq, r.head_hash) for r in rows}


async def find_records(conn: AsyncConnection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StoredRecord]:
    pairs = list(set(keys))
    if not pairs:
        return {}
    rows = await conn.execute(
        sql(
            "SELECT department, record_id, record_type, version, subject_code, content_hash, receipt "
            "FROM ingest.records "
            "WHERE (department, record_id) IN (SELECT * FROM unnest(CAST(:d AS text[]), CAST(:r AS text[])))"
        ),
        {"d": [p[0] for p in pairs], "r": [p[1] for p in pairs]},
    )
    return {
        (r.department, r.record_id): StoredRecord(
            r.department, r.record_id, r.record_type, r.version, r.subject_code, bytes(r.content_hash), r.receipt
        )
        for r in rows
    }


@dataclass(frozen=True, slots=True)
class NewRecord:
    department: str
    record_id: str
    seq: int
    record_type: str
    version: int
    subject_code: str
    decision_date: date
    content_hash: bytes
    receipt: dict[str, Any]
    received_at: datetime
    stage: str | None = None
    """serious_untrustworthy_listing only: 拟列入告知 / 认定 / 移出 (a 认定 looks for its notice)."""
    record: dict[str, Any] | None = None
    """The record as accepted, for read-back (None only in tests that build rows by hand)."""
    receipt_json: bytes | None = None
    record_json: bytes | None = None
    """`receipt` and `record` as JSON when the caller has them already (the writer's canonical JSON)."""


async def insert_records(conn: AsyncConnection, records: Sequence[NewRecord]) -> None:
    await conn.execute(
        sql(
            "INSERT INTO ingest.records (department, record_id, seq, record_type, version, subject_code, "
            "decision_date, content_hash, receipt, received_at, stage, record) VALUES (:department, :record_id, :seq, "
            ":record_type, :version, :subject_code, :decision_date, :content_hash, CAST(:receipt AS jsonb), "
            ":received_at, :stage, CAST(:record AS jsonb))"
        ),
        [
            {
                "department": r.department,
                "record_id": r.record_id,
                "seq": r.seq,
                "record_type": r.record_type,
                "version": r.version,
                "subject_code": r.subject_code,
                "decision_date": r.decision_date,
                "content_hash": r.content_hash,
                "receipt": orjson.dumps(r.receipt).decode(),
                "received_at": r.received_at,
                "stage": r.stage,
                "record": None if r.record is None else orjson.dumps(r.record).decode(),
            }
            for r in records
        ],
    )


async def listing_notices(conn: AsyncConnection, department: str, subject_code: str) -> list[date | None]:
    """Decision dates of the department's 拟列入告知 records about the subject; None for a serious-listing
    record whose stage is not known (stored before ingest kept it). Uses the partial index of 0002."""
    rows = await conn.execute(
        sql(
            "SELECT decision_date, stage FROM ingest.records WHERE department = :d AND subject_code = :s "
            "AND record_type = 'serious_untrustworthy_listing' AND (stage IS NULL OR stage = :notice)"
        ),
        {"d": department, "s": subject_code, "notice": "拟列入告知"},
    )
    return [r.decision_date if r.stage is not None else None for r in rows]


async def advance_chains(conn: AsyncConnection, heads: Iterable[ChainHead]) -> None:
    await conn.execute(
        sql("UPDATE ingest.chains SET seq = :seq, head_hash = :head WHERE department = :department"),
        [{"seq": h.seq, "head": h.head_hash, "department": h.department} for h in heads],
    )


async def add_rejections(conn: AsyncConnection, day: date, counts: dict[tuple[str, str, str], int]) -> None:
    if not counts:
        return
    await conn.execute(
        sql(
            "INSERT INTO ingest.rejections (day, department, record_type, code, count) "
            "VALUES (:day, :dept, :type, :code, :n) ON CONFLICT (day, department, record_type, code) "
            "DO UPDATE SET count = ingest.rejections.count + EXCLUDED.count"
        ),
        # In key order: two worker processes flushing the same keys lock their rows in the same order.
        [{"day": day, "dept": d, "type": t, "code": c, "n": n} for (d, t, c), n in sorted(counts.items())],
    )


async def rejection_counts(conn: AsyncConnection, department: str | None = None) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sql(
            "SELECT day, department, record_type, code, count FROM ingest.rejections "
            "WHERE CAST(:dept AS text) IS NULL OR department = :dept ORDER BY day, department, record_type, code"
        ),
        {"dept": department},
    )
    return [dict(r._mapping) for r in rows]


async def reporting_counts(
    conn: AsyncConnection, department: str | None, start: datetime, end: datetime, first: date, after: date
) -> dict[str, dict[str, Any]]:
    """Per department: records accepted in [start, end), how many were reported late, and rejections by
    error code on the days [first, after)."""
    found: dict[str, dict[str, Any]] = {}
    accepted = await conn.execute(
        sql(
            "SELECT department, count(*) AS accepted, "
            "count(*) FILTER (WHERE (receipt->>'reported_late')::boolean) AS reported_late FROM ingest.records "
            "WHERE received_at >= :start AND received_at < :end "
            "AND (CAST(:dept AS text) IS NULL OR department = :dept) GROUP BY department"
        ),
        {"start": start, "end": end, "dept": department},
    )
    for row in accepted:
        found[row.department] = {"accepted": row.accepted, "reported_late": row.reported_late, "rejections": {}}
    rejected = await conn.execute(
        sql(
            "SELECT department, code, sum(count) AS n FROM ingest.rejections WHERE day >= :first AND day < :after "
            "AND (CAST(:dept AS text) IS NULL OR department = :dept) GROUP BY department, code"
        ),
        {"first": first, "after": after, "dept": department},
    )
    for row in rejected:
        entry = found.setdefault(row.department, {"accepted": 0, "reported_late": 0, "rejections": {}})
        entry["rejections"][row.code] = int(row.n)
    return found


async def read_back(conn: AsyncConnection, department: str, record_id: str) -> dict[str, Any] | None:
    """One of the department's records as the exchange holds it (read-back for reconciliation)."""
    row = (
        await conn.execute(
            sql(
                "SELECT record_id, department, record_type, version, subject_code, receipt, record "
                "FROM ingest.records WHERE department = :department AND record_id = :record_id"
            ),
            {"department": department, "record_id": record_id},
        )
    ).first()
    return None if row is None else dict(row._mapping)


async def receipts_between(
    conn: AsyncConnection, department: str, start: datetime, end: datetime, *, after_seq: int, limit: int
) -> list[dict[str, Any]]:
    """The department's receipts received in [start, end), in chain order, after `after_seq` (keyset page:
    seq is unique per department and assigned under the chain lock, so pages never skip or repeat)."""
    rows = await conn.execute(
        sql(
            "SELECT receipt FROM ingest.records WHERE department = :department AND received_at >= :start "
            "AND received_at < :end AND seq > :after ORDER BY seq LIMIT :limit"
        ),
        {"department": department, "start": start, "end": end, "after": after_seq, "limit": limit},
    )
    return [r.receipt for r in rows]


# -- the group commit on raw asyncpg ------------------------------------------------------------------------
# The writer runs the same few statements for every batch, so they go straight to asyncpg (prepared once per
# connection by its statement cache, arrays instead of executemany, no SQLAlchemy layers, no pre-ping): a
# batch is BEGIN, lock heads, find earlier records, one write, COMMIT — five round trips whatever its size.

LOCK_HEADS = (
    "SELECT department, seq, head_hash FROM ingest.chains WHERE department = ANY($1::text[]) "
    "ORDER BY department FOR UPDATE"
)
CREATE_HEADS = (
    "INSERT INTO ingest.chains (department, seq, head_hash) "
    "SELECT d, 0, $2 FROM unnest($1::text[]) AS d ON CONFLICT DO NOTHING"
)
FIND_RECORDS = (
    "SELECT r.department, r.record_id, r.record_type, r.version, r.subject_code, r.content_hash, r.receipt::text "
    "FROM ingest.records r JOIN unnest($1::text[], $2::text[]) AS k(department, record_id) "
    "ON r.department = k.department AND r.record_id = k.record_id"
)
# Records, outbox rows and chain heads in ONE statement (data-modifying CTEs always run to completion).
# unnest returns the arrays in order, so outbox ids follow the receipts' order within a department.
WRITE_BATCH = """
WITH new_records AS (
  INSERT INTO ingest.records (department, record_id, seq, record_type, version, subject_code, decision_date,
                              content_hash, receipt, received_at, stage, record)
  SELECT r.department, r.record_id, r.seq, r.record_type, r.version, r.subject_code, r.decision_date,
         r.content_hash, r.receipt::jsonb, $10, r.stage, r.record::jsonb
  FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::int4[], $6::text[], $7::date[], $8::bytea[],
              $9::text[], $11::text[], $19::text[])
    AS r(department, record_id, seq, record_type, version, subject_code, decision_date, content_hash, receipt, stage,
         record)
), new_events AS (
  INSERT INTO ingest.outbox (topic, key, value, headers)
  SELECT e.topic, e.key, e.value, e.headers::jsonb
  FROM unnest($12::text[], $13::bytea[], $14::bytea[], $15::text[]) AS e(topic, key, value, headers)
), new_heads AS (
  UPDATE ingest.chains AS c SET seq = h.seq, head_hash = h.head_hash
  FROM unnest($16::text[], $17::int8[], $18::text[]) AS h(department, seq, head_hash)
  WHERE c.department = h.department
)
SELECT pg_notify('ingest_outbox', '')
"""
OUTBOX_CHANNEL = "ingest_outbox"
"""WRITE_BATCH notifies this channel (delivered at COMMIT, deduplicated per transaction), so the relay that
leads wakes at once whichever worker process or replica committed (see services/common/outbox.py)."""


async def lock_heads(conn: asyncpg.Connection, departments: Iterable[str]) -> dict[str, ChainHead]:
    """`lock_chains` in one round trip when every department has reported before (the steady state)."""
    names = sorted(set(departments))
    rows = await conn.fetch(LOCK_HEADS, names)
    if len(rows) < len(names):  # a department's first record: create its head, then lock all in order
        await conn.execute(CREATE_HEADS, names, GENESIS)
        rows = await conn.fetch(LOCK_HEADS, names)
    return {r["department"]: ChainHead(r["department"], r["seq"], r["head_hash"]) for r in rows}


async def find_earlier(
    conn: asyncpg.Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], StoredRecord]:
    pairs = list(set(keys))
    rows = await conn.fetch(FIND_RECORDS, [p[0] for p in pairs], [p[1] for p in pairs])
    return {(r[0], r[1]): StoredRecord(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), orjson.loads(r[6])) for r in rows}


def _record_text(row: NewRecord) -> str | None:
    if row.record_json is not None:
        return row.record_json.decode()
    return None if row.record is None else orjson.dumps(row.record).decode()


async def write_batch(
    conn: asyncpg.Connection,
    records: Sequence[NewRecord],
    events: Sequence[dict[str, Any]],
    heads: Iterable[ChainHead],
    received_at: datetime,
) -> None:
    moved = list(heads)
    await conn.execute(
        WRITE_BATCH,
        [r.department for r in records],
        [r.record_id for r in records],
        [r.seq for r in records],
        [r.record_type for r in records],
        [r.version for r in records],
        [r.subject_code for r in records],
        [r.decision_date for r in records],
        [r.content_hash for r in records],
        [(r.receipt_json or orjson.dumps(r.receipt)).decode() for r in records],
        received_at,
        [r.stage for r in records],
        [e["topic"] for e in events],
        [e["key"] for e in events],
        [e["value"] for e in events],
        [orjson.dumps(e["headers"]).decode() for e in events],
        [h.department for h in moved],
        [h.seq for h in moved],
        [h.head_hash for h in moved],
        [_record_text(r) for r in records],  # read-back (issue 21)
    )
