"""Approved credit repairs (信用修复, DOMAIN §9) in a subject's records, pure.

A department approves a repair with a ``repair_decision`` record whose ``decision`` is 准予修复, naming its
own record (谁认定、谁修复; ingest checks the target). From the approval's decision date the record is off
the portal and no longer a basis for grading or sanctions (docs/decisions.md). Like amendments, the result
depends only on the set of records, never on their arrival order, so a replay rebuilds the same state.

Whether the law allows the record to be repaired at all (a 严重 penalty before its minimum publicity
period, a type with no repair) is the publicity rules' question; publish applies an approval only where
they allow it, and refuses such applications when they are filed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from services.common.amendments import effective_records
from services.common.records import AcceptedRecord
from services.common.vocabulary import RecordTypeName

REPAIR_DECISION = RecordTypeName.REPAIR_DECISION
APPROVED = "准予修复"
REPAIRABLE_TYPES = frozenset({RecordTypeName.ADMINISTRATIVE_PENALTY, RecordTypeName.SERIOUS_UNTRUSTWORTHY_LISTING})
"""The record types a repair decision may name: 失信信息 with a publicity period, and the serious list."""


def approved_repairs(records: Iterable[AcceptedRecord]) -> dict[tuple[str, str], AcceptedRecord]:
    """(department, record id) → the earliest approval of its repair (by decision date, then record id).

    Approvals are read as amended: a revoked 准予修复 repairs nothing, a corrected one says what it now says."""
    found: dict[tuple[str, str], AcceptedRecord] = {}
    for record in (e.record for e in effective_records(records)):
        if record.record_type != REPAIR_DECISION or record.data.get("decision") != APPROVED:
            continue
        key = (record.department, str(record.data.get("target_record_id")))
        current = found.get(key)
        if current is None or (record.decision_date, record.record_id) < (current.decision_date, current.record_id):
            found[key] = record
    return found


def repaired_on(repairs: Mapping[tuple[str, str], AcceptedRecord], record: AcceptedRecord) -> date | None:
    """The day ``record`` was repaired, or None."""
    approval = repairs.get((record.department, record.record_id))
    return approval.decision_date if approval is not None else None
