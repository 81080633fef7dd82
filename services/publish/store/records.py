"""Locks and the consumed records (publish.records) of the publish service.

Every function of the store takes the schema it works in: ``publish`` for the service, a scratch schema for
`exchange audit replay` (services/publish/replay.py). Schema names come from code, never from a request."""

from __future__ import annotations

from collections.abc import Sequence
from zlib import crc32

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql
from services.common.records import AcceptedRecord, record_from_row

SCHEMA = "publish"
_SUBJECT_LOCK = 7301  # advisory-lock class of "one subject of the publish service"


def _lock_class(schema: str) -> int:
    """The service's own class for its schema; another schema (a replay's) gets one of its own, so a rebuild
    beside the live service never waits for the live consumer's subject locks."""
    return _SUBJECT_LOCK if schema == SCHEMA else -(crc32(schema.encode()) & 0x7FFFFFFF) - 1


async def lock_subjects(conn: AsyncConnection, schema: str, subject_codes: Sequence[str]) -> None:
    """Serialise every writer of these subjects' disclosures and cases (consumer, ticker, endpoints,
    replicas) until the transaction ends; taken in the order of the locks' own keys, so no two transactions
    wait for each other in a cycle, even when two codes share a hash."""
    await conn.execute(
        sql(
            "SELECT pg_advisory_xact_lock(:c, h) FROM (SELECT DISTINCT hashtext(s) AS h "
            "FROM unnest(CAST(:s AS text[])) AS s ORDER BY h) AS ordered"
        ),
        {"c": _lock_class(schema), "s": list(subject_codes)},
    )


async def subject_files(
    conn: AsyncConnection, schema: str, subject_codes: Sequence[str]
) -> dict[str, list[AcceptedRecord]]:
    """Each subject's records, plus amendments of them filed under another subject code, in one round trip
    (a subject with no records is absent)."""
    rows = await conn.execute(
        sql(
            f"SELECT subject_code AS owner, record, receipt FROM {schema}.records "
            "WHERE subject_code = ANY(CAST(:s AS text[])) UNION ALL "
            f"SELECT t.subject_code, a.record, a.receipt FROM {schema}.records a JOIN {schema}.records t "
            "ON a.department = t.department AND a.record->'data'->>'target_record_id' = t.record_id "
            "WHERE t.subject_code = ANY(CAST(:s AS text[])) AND a.subject_code <> t.subject_code "
            "AND a.record_type IN ('record_correction', 'record_revocation')"
        ),
        {"s": list(subject_codes)},
    )
    files: dict[str, list[AcceptedRecord]] = {}
    for r in rows:
        files.setdefault(r.owner, []).append(record_from_row(r.record, r.receipt))
    return files


async def lock_subject(conn: AsyncConnection, schema: str, subject_code: str) -> None:
    await lock_subjects(conn, schema, [subject_code])


async def subject_file(conn: AsyncConnection, schema: str, subject_code: str) -> list[AcceptedRecord]:
    """The subject's records, plus amendments of them filed under another subject code. Its own statement,
    not `subject_files` of one code: routed through the array form, the ticker's recomputation of every
    subject after a clock jump ran past two minutes in one test run in four (it takes seconds)."""
    rows = await conn.execute(
        sql(
            f"SELECT record, receipt FROM {schema}.records WHERE subject_code = :s UNION ALL "
            f"SELECT a.record, a.receipt FROM {schema}.records a JOIN {schema}.records t "
            "ON a.department = t.department AND a.record->'data'->>'target_record_id' = t.record_id "
            "WHERE t.subject_code = :s AND a.subject_code <> :s "
            "AND a.record_type IN ('record_correction', 'record_revocation')"
        ),
        {"s": subject_code},
    )
    return [record_from_row(r.record, r.receipt) for r in rows]


async def amended_before_arrival(
    conn: AsyncConnection, schema: str, keys: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Those of these (department, record id) with a stored correction or revocation: one consumed before
    the record it amends."""
    if not keys:
        return set()
    found = await conn.execute(
        sql(
            f"SELECT DISTINCT k.d, k.r FROM {schema}.records a JOIN unnest(CAST(:d AS text[]), CAST(:r AS text[])) "
            "AS k(d, r) ON a.department = k.d AND a.record->'data'->>'target_record_id' = k.r "
            "WHERE a.record_type IN ('record_correction', 'record_revocation')"
        ),
        {"d": [d for d, _ in keys], "r": [r for _, r in keys]},
    )
    return {(row.d, row.r) for row in found}


async def find_record(conn: AsyncConnection, schema: str, department: str, record_id: str) -> AcceptedRecord | None:
    row = (
        await conn.execute(
            sql(f"SELECT record, receipt FROM {schema}.records WHERE department = :d AND record_id = :r"),
            {"d": department, "r": record_id},
        )
    ).first()
    return None if row is None else record_from_row(row.record, row.receipt)


async def amendments_of(conn: AsyncConnection, schema: str, department: str, record_id: str) -> list[AcceptedRecord]:
    rows = await conn.execute(
        sql(
            f"SELECT record, receipt FROM {schema}.records WHERE department = :d "
            "AND record_type IN ('record_correction', 'record_revocation') "
            "AND record->'data'->>'target_record_id' = :r"
        ),
        {"d": department, "r": record_id},
    )
    found = [record_from_row(r.record, r.receipt) for r in rows]
    # In the order ingest accepted them (a total order), whatever order they were consumed in.
    return sorted(found, key=lambda a: (a.received_at, int(a.receipt.get("seq", 0)), a.record_id))
