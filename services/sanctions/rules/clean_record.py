"""连续三年无不良信用记录 (001 L360; persons 001 L534): the derived trigger `clean_record_3y`, pure.

A subject's clean years run from its establishment (its registration's establishment_date) or its first
record, whichever is earlier, or else from the day after its last adverse record: a dated adverse record
counts on its decision date, an adverse list entry on every day it is in force. The trigger starts the
day the third clean year is complete and lasts until the next adverse record (the caller evaluates it as
of a date, so a later adverse record simply ends the run).

What is adverse is not decided here: it is the 不良行为信息 block (`adverse`) of the grading rule set
named by ADVERSE_RULE_SET, read from the subject's credit file as grading reads it (corrections applied,
revoked records gone, a repaired penalty no longer counted). A watch-list entry or broken commitment with
no legally effective document never counts (001 L646, services.common.legal_document).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from services.common.legal_document import uncounted_records
from services.common.records import AcceptedRecord
from services.grading.rules import build_credit_file, years_after
from services.grading.rules.model import BenxiRules
from services.sanctions.rules.cases import Trigger, derived_trigger

CLEAN_RECORD = "clean_record_3y"
CLEAN_YEARS = 3
ADVERSE_RULE_SET = "benxi-2017"  # the county's reading of 不良行为信息 (004 L45), shared with grading
_DAY = timedelta(days=1)


def clean_since(
    records: Sequence[AcceptedRecord], adverse: BenxiRules, as_of: date, *, subject_kind: str
) -> date | None:
    """The first day of the subject's current run of clean days, or None while an adverse record is in
    force on `as_of` (or the subject has no record at all)."""
    if not records:
        return None
    file = build_credit_file(records, as_of=as_of, subject_kind=subject_kind)
    uncounted = uncounted_records(records)
    blemishes: list[date] = []
    for mark in file.marks:
        if (mark.department, mark.record_id) in uncounted:
            continue
        if any(rule.matches(mark.record_type, mark.details) for rule in adverse.adverse_records):
            blemishes.append(mark.decided_on)
    for listing in file.listings:
        if (listing.department, listing.record_id) in uncounted:
            continue
        if listing.record_type in adverse.adverse_lists | adverse.serious_lists:
            if listing.in_force(as_of) or listing.end is None:
                return None
            blemishes.append(listing.end - _DAY)  # its last day in force
    first = min(r.decision_date for r in records)
    established = file.establishment_date
    start = min(first, established) if established is not None else first
    return max([start, *(day + _DAY for day in blemishes)])


def clean_record_trigger(
    records: Sequence[AcceptedRecord], adverse: BenxiRules, as_of: date, *, subject_kind: str
) -> Trigger | None:
    """`clean_record_3y` in force on `as_of`, from the day the third clean year was complete, or None."""
    start = clean_since(records, adverse, as_of, subject_kind=subject_kind)
    if start is None:
        return None
    since = years_after(start - _DAY, CLEAN_YEARS) + _DAY  # three whole years from `start` on
    if since > as_of:
        return None
    code = records[0].subject_code
    return derived_trigger(CLEAN_RECORD, subject_code=code, subject_kind=subject_kind, since=since)
