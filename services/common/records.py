"""The payload of a record-topic event, as every consumer reads it: the record as accepted + its receipt."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    derived: dict[object, Any] = field(default_factory=dict, init=False, compare=False, hash=False, repr=False)
    """What pure rules derived from this record alone, kept with it (a record is never changed, and a kept
    file's records are read again by every later event of the subject); `dataclasses.replace` starts anew."""

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


async def store_received_records(conn: Any, schema: str, records: Sequence[AcceptedRecord]) -> set[str]:
    """Keep consumed records in the service's own `records` table, in one round trip (inside the caller's
    transaction; the first copy of an id is kept). Returns the event ids (`<department>/<record id>`) of
    the records that were new."""
    # Imported here, not at the top: the pure rule packages import AcceptedRecord and must not pull in SQL.
    from services.common.db import sql
    from services.common.envelope import dumps

    rows = await conn.execute(
        sql(
            f"INSERT INTO {schema}.records (department, record_id, record_type, subject_code, decision_date, "
            "received_at, record, receipt) SELECT d, r, t, s, dd, ra, rec, rcpt "
            "FROM unnest(CAST(:d AS text[]), CAST(:r AS text[]), CAST(:t AS text[]), CAST(:s AS text[]), "
            "CAST(:dd AS date[]), CAST(:ra AS timestamptz[]), "
            "CAST(:rec AS jsonb[]), CAST(:rcpt AS jsonb[])) WITH ORDINALITY AS u(d, r, t, s, dd, ra, rec, rcpt, n) "
            "ORDER BY n ON CONFLICT (department, record_id) DO NOTHING RETURNING department, record_id"
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
    return {f"{r.department}/{r.record_id}" for r in rows}


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


@dataclass(slots=True)
class _File:
    records: list[AcceptedRecord]
    seq: int
    """The highest `seq` among `records`."""
    keys: int
    """The sum of `hashtext('<department>/<record id>')` over `records` (PostgreSQL's own hash)."""


@dataclass
class SubjectFiles:
    """Subjects' credit files kept parsed between transactions, so that reading a file costs the rows added
    since it was last read, not the subject's whole history (issue 18: work per event independent of it).

    For a service whose `records` table has a `seq` identity column and whose rows of one subject are only
    inserted under that subject's lock (grading). Each read asks PostgreSQL, in the same round trip, for the
    rows above the kept file's highest `seq` and for the count, highest `seq` and key-hash sum of all the
    subject's rows: a kept file is used only when it plus the new rows account for exactly those, else the
    subject is read whole (a table emptied, a row deleted or committed out of order, rows kept from a
    transaction that then rolled back). The caller gets the records a fresh read gives (order aside, which
    the rules never depend on), so derived state stays a pure function of the log.

    Bounded: files of at least `min_records` records (smaller ones cost little to read), at most
    `max_records` records in all (about 9 KB resident each, parsed and with what the rules derived: ~180 MB;
    docs/decisions.md, issue 18 — grading at S8's scale),
    least recently used evicted first. The records are shared between callers: never mutate them. Grading
    keeps fewer (`handlers.KEPT_RECORDS`): it grades its heavy subjects from their kept states instead.
    """

    max_records: int = 20_000
    min_records: int = 16
    _files: OrderedDict[tuple[str, str], _File] = field(default_factory=OrderedDict, repr=False)
    _size: int = field(default=0, repr=False)

    async def read(self, conn: Any, schema: str, codes: Sequence[str]) -> dict[str, list[AcceptedRecord]]:
        """`records_of_subjects`, from the kept files plus what was added since (one round trip, or two
        when a kept file no longer matches the table)."""
        from services.common.db import sql

        kept = {code: self._files.get((schema, code)) for code in codes}
        rows = await conn.execute(
            sql(
                "WITH w AS (SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:after AS bigint[])) AS w(code, after)) "
                "SELECT r.subject_code AS code, r.seq, r.record, r.receipt, "
                "CAST(hashtext(r.department || '/' || r.record_id) AS bigint) AS keys, CAST(NULL AS bigint) AS n "
                f"FROM w JOIN {schema}.records r ON r.subject_code = w.code AND r.seq > w.after "
                "UNION ALL SELECT subject_code, max(seq), NULL, NULL, "
                "sum(hashtext(department || '/' || record_id)), count(*) "
                f"FROM {schema}.records WHERE subject_code = ANY(CAST(:codes AS text[])) GROUP BY subject_code"
            ),
            {"codes": list(codes), "after": [k.seq if k else 0 for k in kept.values()]},
        )
        added: dict[str, list[tuple[int, int, AcceptedRecord]]] = {}
        totals: dict[str, tuple[int, int, int]] = {}
        for row in rows:
            if row.n is not None:
                totals[row.code] = (row.n, row.seq, row.keys)
            else:
                added.setdefault(row.code, []).append((row.seq, row.keys, record_from_row(row.record, row.receipt)))
        stale = []
        files: dict[str, list[AcceptedRecord]] = {}
        for code in codes:
            if code not in totals:
                self._drop(schema, code)
                continue
            n, seq, keys = totals[code]
            old, new = kept[code], added.get(code, [])
            records = list(old.records) if old else []
            records += [r for _, _, r in new]
            key_sum = (old.keys if old else 0) + sum(k for _, k, _ in new)
            if (
                len(records) != n
                or key_sum != keys
                or max((s for s, _, _ in new), default=old.seq if old else 0) != seq
            ):
                stale.append(code)
                continue
            files[code] = records
            self._keep(schema, code, _File(records, seq, keys))
        if stale:
            files.update(await self._reload(conn, schema, stale))
        return {code: list(records) for code, records in files.items()}

    async def _reload(self, conn: Any, schema: str, codes: Sequence[str]) -> dict[str, list[AcceptedRecord]]:
        from services.common.db import sql

        rows = await conn.execute(
            sql(
                "SELECT subject_code AS code, seq, record, receipt, "
                "CAST(hashtext(department || '/' || record_id) AS bigint) AS keys "
                f"FROM {schema}.records WHERE subject_code = ANY(CAST(:codes AS text[]))"
            ),
            {"codes": list(codes)},
        )
        found: dict[str, _File] = {}
        for row in rows:
            file = found.setdefault(row.code, _File([], 0, 0))
            file.records.append(record_from_row(row.record, row.receipt))
            file.seq = max(file.seq, row.seq)
            file.keys += row.keys
        for code in codes:
            self._drop(schema, code)
            if code in found:
                self._keep(schema, code, found[code])
        return {code: file.records for code, file in found.items()}

    def _keep(self, schema: str, code: str, file: _File) -> None:
        self._drop(schema, code)
        if len(file.records) < self.min_records:
            return
        self._files[(schema, code)] = file
        self._size += len(file.records)
        while self._size > self.max_records and self._files:
            _, evicted = self._files.popitem(last=False)
            self._size -= len(evicted.records)

    def _drop(self, schema: str, code: str) -> None:
        old = self._files.pop((schema, code), None)
        if old is not None:
            self._size -= len(old.records)


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
