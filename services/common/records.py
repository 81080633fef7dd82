"""The payload of a record-topic event, as every consumer reads it: the record as accepted + its receipt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.common.envelope import CloudEvent


class MalformedRecordEvent(ValueError):
    """A record-topic event whose payload does not have the shape ingest writes (dead-lettered)."""


@dataclass(frozen=True, slots=True)
class AcceptedRecord:
    event_id: str
    department: str
    record_id: str
    record_type: str
    version: int
    subject_code: str
    decision_date: date
    received_at: datetime
    record: dict[str, Any]
    receipt: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.record["data"]
        return data

    @classmethod
    def from_event(cls, event: CloudEvent) -> AcceptedRecord:
        try:
            accepted = record_from_row(event.data["record"], event.data["receipt"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedRecordEvent(f"event {event.id} is not an accepted record: {exc!r}") from exc
        if accepted.event_id != event.id:
            raise MalformedRecordEvent(f"event {event.id} carries record {accepted.event_id}")
        return accepted


async def store_received_record(conn: Any, schema: str, accepted: AcceptedRecord) -> None:
    """Keep a consumed record in the service's own `records` table (inside the caller's transaction)."""
    await store_received_records(conn, schema, [accepted])


async def store_received_records(conn: Any, schema: str, records: Sequence[AcceptedRecord]) -> None:
    """Keep consumed records in the service's own `records` table, in one round trip (inside the caller's
    transaction; the first copy of an id is kept)."""
    # Imported here, not at the top: the pure rule packages import AcceptedRecord and must not pull in SQL.
    from services.common.db import sql
    from services.common.envelope import dumps

    await conn.execute(
        sql(
            f"INSERT INTO {schema}.records (department, record_id, record_type, subject_code, decision_date, "
            "received_at, record, receipt) SELECT d, r, t, s, dd, ra, rec, rcpt "
            "FROM unnest(CAST(:d AS text[]), CAST(:r AS text[]), CAST(:t AS text[]), CAST(:s AS text[]), "
            "CAST(:dd AS date[]), CAST(:ra AS timestamptz[]), "
            "CAST(:rec AS jsonb[]), CAST(:rcpt AS jsonb[])) WITH ORDINALITY AS u(d, r, t, s, dd, ra, rec, rcpt, n) "
            "ORDER BY n ON CONFLICT (department, record_id) DO NOTHING"
        ),
        {
            "d": [a.department for a in records],
            "r": [a.record_id for a in records],
            "t": [a.record_type for a in records],
            "s": [a.subject_code for a in records],
            "dd": [a.decision_date for a in records],
            "ra": [a.received_at for a in records],
            "rec": [dumps(a.record).decode() for a in records],
            "rcpt": [dumps(a.receipt).decode() for a in records],
        },
    )


async def records_of_subjects(conn: Any, schema: str, codes: Sequence[str]) -> dict[str, list[AcceptedRecord]]:
    """The credit files of several subjects (see `subject_records`), in one round trip; a subject with no
    records is absent."""
    from services.common.db import sql

    rows = await conn.execute(
        sql(f"SELECT record, receipt FROM {schema}.records WHERE subject_code = ANY(CAST(:codes AS text[]))"),
        {"codes": list(codes)},
    )
    files: dict[str, list[AcceptedRecord]] = {}
    for row in rows:
        record = record_from_row(row.record, row.receipt)
        files.setdefault(record.subject_code, []).append(record)
    return files


async def subject_records(conn: Any, schema: str, subject_code: str) -> list[AcceptedRecord]:
    """Every record a service has consumed about one subject (its credit file as that service sees it)."""
    return (await records_of_subjects(conn, schema, [subject_code])).get(subject_code, [])


def record_from_row(record: dict[str, Any], receipt: dict[str, Any]) -> AcceptedRecord:
    return AcceptedRecord(
        event_id=f"{receipt['department']}/{record['id']}",
        department=receipt["department"],
        record_id=record["id"],
        record_type=record["type"],
        version=int(record["version"]),
        subject_code=record["subject"]["code"],
        decision_date=date.fromisoformat(record["decision_date"]),
        received_at=datetime.fromisoformat(receipt["received_at"]),
        record=record,
        receipt=receipt,
    )
