"""What grading keeps between a subject's events stays within its bound (issue 18: resident memory must not
grow with the log). Events come as the consumer feeds them: each batch reads the subject's records back
from the table (equal copies, not the objects graded before) plus the record received. `KeptSubjects` never
holds more records than `max_records`, not even twice over (the kept state moves onto the copies), and a
subject it drops takes what was derived from its records with it."""

from __future__ import annotations

import gc
import weakref
from datetime import date, timedelta
from typing import Any

from services.common.records import AcceptedRecord, record_from_row
from services.grading.rules import load_rule_sets
from services.grading.rules.grades import compute, subject_of
from services.grading.rules.subject_records import KeptSubjects
from tests import factories
from tests.unit.test_grading_rules import SCHEMAS, penalty

DAY = date(2026, 12, 7)
MAX_RECORDS, MIN_RECORDS = 120, 16
Row = tuple[dict[str, Any], dict[str, Any]]


class _Derived:
    """Stands for what the rules derive from a record (weakly referable, unlike the slotted facts)."""


def _row(code: str, n: int) -> Row:
    made = penalty(str(DAY - timedelta(days=1 + n % 5)), "罚款", fine=2.5 if n % 3 else 4)
    return {**made.record, "subject": {**made.record["subject"], "code": code}}, made.receipt


def _read(table: list[Row]) -> list[AcceptedRecord]:
    """The subject's records as the next batch reads them: parsed anew from the table."""
    return [record_from_row(record, receipt) for record, receipt in table]


def _alive() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is AcceptedRecord)


def test_kept_records_stay_within_the_bound_and_a_dropped_subject_releases_what_was_derived() -> None:
    rule_sets = load_rule_sets(SCHEMAS)
    kept = KeptSubjects(max_records=MAX_RECORDS, min_records=MIN_RECORDS)
    codes = [factories.uscc("91") for _ in range(8)]
    tables: dict[str, list[Row]] = {code: [] for code in codes}
    before = _alive()  # records other modules hold (test cases)

    def event(code: str) -> None:
        tables[code].append(_row(code, len(tables[code])))
        records = kept.of(code, _read(tables[code]))
        compute(records, subject_of(code, records), rule_sets, "chongqing-amr", DAY)
        assert kept.size <= MAX_RECORDS

    first = codes[0]
    for _ in range(40):
        event(first)
    assert (kept.size, len(kept)) == (40, 1)
    held = kept.of(first, _read(tables[first]))  # the kept state moves onto these copies
    assert _alive() - before == 40, "the records graded before are still held beside their copies"
    derived = held[0].derived["test.derived"] = _Derived()
    gone = weakref.ref(derived)
    del held, derived

    # More subjects and records than the bound holds, event by event: the least recently used is dropped.
    for _ in range(30):
        for code in codes[1:]:
            event(code)
    assert kept.size <= MAX_RECORDS
    assert gone() is None, "a dropped subject's derived state is still held"
    assert _alive() - before <= MAX_RECORDS, "more records held than the bound counts"
