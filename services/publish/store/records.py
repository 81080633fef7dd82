"""Locks and the consumed records (publish.records) of the publish service."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql
from services.common.records import AcceptedRecord, record_from_row

SCHEMA = "publish"
_SUBJECT_LOCK = 7301  # advisory-lock class of "one subject of the publish service"


async def lock_subjects(conn: AsyncConnection, subject_codes: Sequence[str]) -> None:
    """Serialise every writer of these subjects' disclosures and cases (consumer, ticker, endpoints,
    replicas) until the transaction ends; taken in the order of the locks' own keys, so no two transactions
    wait for each other in a cycle, even when two codes share a hash."""
    await conn.execute(
        sql(
            "SELECT pg_advisory_xact_lock(:c, h) FROM (SELECT DISTINCT hashtext(s) AS h "
            "FROM unnest(CAST(:s AS text[])) AS s ORDER BY h) AS ordered"
        ),
        {"c": _SUBJECT_LOCK, "s": list(subject_codes)},
    )


async def subject_files(conn: AsyncConnection, subject_codes: Sequence[str]) -> dict[str, list[AcceptedRecord]]:
    """Each subject's records, plus amendments of them filed under another subject code, in one round trip
    (a subject with no records is absent)."""
    rows = await conn.execute(
        sql(
            "SELECT subject_code AS owner, record, receipt FROM publish.records "
            "WHERE subject_code = ANY(CAST(:s AS text[])) UNION ALL "
            "SELECT t.subject_code, a.record, a.receipt FROM publish.records a JOIN publish.records t "
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


async def lock_subject(conn: AsyncConnection, subject_code: str) -> None:
    await lock_subjects(conn, [subject_code])


async def subject_file(conn: AsyncConnection, subject_code: str) -> list[AcceptedRecord]:
    """The subject's records, plus amendments of them filed under another subject code. Its own statement,
    not `subject_files` of one code: routed through the array form, the ticker's recomputation of every
    subject after a clock jump ran past two minutes in one test run in four (it takes seconds)."""
    rows = await conn.execute(
        sql(
            "SELECT record, receipt FROM publish.records WHERE subject_code = :s UNION ALL "
            "SELECT a.record, a.receipt FROM publish.records a JOIN publish.records t "
            "ON a.department = t.department AND a.record->'data'->>'target_record_id' = t.record_id "
            "WHERE t.subject_code = :s AND a.subject_code <> :s "
            "AND a.record_type IN ('record_correction', 'record_revocation')"
        ),
        {"s": subject_code},
    )
    return [record_from_row(r.record, r.receipt) for r in rows]


async def amended_before_arrival(conn: AsyncConnection, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Those of these (department, record id) with a stored correction or revocation: one consumed before
    the record it amends."""
    if not keys:
        return set()
    found = await conn.execute(
        sql(
            "SELECT DISTINCT k.d, k.r FROM publish.records a JOIN unnest(CAST(:d AS text[]), CAST(:r AS text[])) "
            "AS k(d, r) ON a.department = k.d AND a.record->'data'->>'target_record_id' = k.r "
            "WHERE a.record_type IN ('record_correction', 'record_revocation')"
        ),
        {"d": [d for d, _ in keys], "r": [r for _, r in keys]},
    )
    return {(row.d, row.r) for row in found}


async def find_record(conn: AsyncConnection, department: str, record_id: str) -> AcceptedRecord | None:
    row = (
        await conn.execute(
            sql("SELECT record, receipt FROM publish.records WHERE department = :d AND record_id = :r"),
            {"d": department, "r": record_id},
        )
    ).first()
    return None if row is None else record_from_row(row.record, row.receipt)


async def amendments_of(conn: AsyncConnection, department: str, record_id: str) -> list[AcceptedRecord]:
    rows = await conn.execute(
        sql(
            "SELECT record, receipt FROM publish.records WHERE department = :d "
            "AND record_type IN ('record_correction', 'record_revocation') "
            "AND record->'data'->>'target_record_id' = :r"
        ),
        {"d": department, "r": record_id},
    )
    found = [record_from_row(r.record, r.receipt) for r in rows]
    # In the order ingest accepted them (a total order), whatever order they were consumed in.
    return sorted(found, key=lambda a: (a.received_at, int(a.receipt.get("seq", 0)), a.record_id))
