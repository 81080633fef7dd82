"""001 L646: a 失信 record counts against its subject only when it rests on a legally effective document
(生效的司法裁判文书、行政处罚和行政裁决等行政行为决定文书 …). Catalogue v2 requires the document's number on a
watch-list 列入 and on a 违诺 commitment; a v1 record without one is still accepted (its receipt says why)
but counts against nobody: no grade, no sanction, no broken clean record. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.common.amendments import effective_records
from services.common.records import AcceptedRecord
from services.common.vocabulary import RecordTypeName

# record type -> (field, value) that makes the record adverse, which then needs `document_no`
NEEDS_DOCUMENT: Mapping[str, tuple[str, str]] = {
    RecordTypeName.WATCH_LIST: ("action", "列入"),
    RecordTypeName.CREDIT_COMMITMENT: ("event", "违诺"),
}


def needs_legal_document(record_type: str) -> bool:
    """Whether this type's adverse records (watch-list 列入, 违诺) must name a legally effective document;
    grading asks it of the adverse records it found, so an entry's other actions never reach it."""
    return record_type in NEEDS_DOCUMENT


def lacks_legal_document(record_type: str, data: Mapping[str, Any]) -> bool:
    """An adverse watch-list entry or broken commitment that names no legally effective document."""
    needed = NEEDS_DOCUMENT.get(record_type)
    if needed is None:
        return False
    field, value = needed
    return data.get(field) == value and not str(data.get("document_no") or "").strip()


def uncounted_records(records: Iterable[AcceptedRecord]) -> frozenset[tuple[str, str]]:
    """(department, record id) of the subject's records that may not count against it, corrections
    applied (a correction that adds the document number makes the record count from then on)."""
    return frozenset(
        (e.record.department, e.record.record_id)
        for e in effective_records(list(records))
        if lacks_legal_document(e.record.record_type, e.record.data)
    )
