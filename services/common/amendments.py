"""Corrections and revocations applied to a subject's records, so that everything derived sees each
record "as if it had been right from the start" (DOMAIN §3 item 10).

Pure and order-independent: the result depends only on the set of records, never on the order in which
they arrived, which is what lets a replay in any order rebuild the same state. A department can amend
only its own records (ingest enforces it; this module keys amendments by the same department).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from services.common.records import AcceptedRecord
from services.common.vocabulary import RecordTypeName

CORRECTION = RecordTypeName.RECORD_CORRECTION
REVOCATION = RecordTypeName.RECORD_REVOCATION
AMENDMENT_TYPES = frozenset({CORRECTION, REVOCATION})


@dataclass(frozen=True, slots=True)
class Amendment:
    """What happened to one record: the correction in force, and/or its revocation."""

    corrected_by: AcceptedRecord | None = None
    revoked_by: AcceptedRecord | None = None

    @property
    def revoked_on(self) -> date | None:
        return self.revoked_by.decision_date if self.revoked_by else None


@dataclass(frozen=True, slots=True)
class EffectiveRecord:
    """A record as it stands after its amendments: `record.data` is the corrected data when corrected."""

    record: AcceptedRecord
    original: AcceptedRecord
    amendment: Amendment

    @property
    def corrected(self) -> bool:
        return self.amendment.corrected_by is not None


def _order(record: AcceptedRecord) -> tuple[date, str, int, str]:
    # Latest decision wins; ties by receipt time then the department's sequence: all in the record itself.
    return (record.decision_date, record.receipt["received_at"], int(record.receipt.get("seq", 0)), record.record_id)


def amendments_of(records: Iterable[AcceptedRecord]) -> dict[tuple[str, str], Amendment]:
    found: dict[tuple[str, str], Amendment] = {}
    for record in records:
        if record.record_type not in AMENDMENT_TYPES:
            continue
        key = (record.department, record.data["target_record_id"])
        current = found.get(key, Amendment())
        if record.record_type == REVOCATION:
            if current.revoked_by is None or _order(record) < _order(current.revoked_by):
                current = replace(current, revoked_by=record)  # the first revocation is the one that counts
        elif current.corrected_by is None or _order(record) > _order(current.corrected_by):
            current = replace(current, corrected_by=record)
        found[key] = current
    return found


def effective_records(records: Iterable[AcceptedRecord], *, keep_revoked: bool = False) -> list[EffectiveRecord]:
    """The subject's non-amendment records with corrections applied; revoked ones dropped unless asked for."""
    records = list(records)
    amendments = amendments_of(records)
    result: list[EffectiveRecord] = []
    for record in records:
        if record.record_type in AMENDMENT_TYPES:
            continue
        amendment = amendments.get((record.department, record.record_id), Amendment())
        if amendment.revoked_by is not None and not keep_revoked:
            continue
        current = record
        if amendment.corrected_by is not None:
            corrected_data = amendment.corrected_by.data["corrected_data"]
            current = replace(record, record={**record.record, "data": corrected_data})
        result.append(EffectiveRecord(current, record, amendment))
    result.sort(key=lambda e: (e.record.decision_date, e.record.department, e.record.record_id))
    return result
