"""A subject's records with what grading derives from all of them together, kept between its events.

`effective_records`, `approved_repairs`, who the subject is and each credit file built from them are
derived from the whole set of records; a subject with a long history would derive them again at every
event. `SubjectRecords` holds them, and `SubjectRecords(records, previous)` extends the previous ones
instead when `records` are `previous`'s (the same objects, in the same order: a kept file) followed by
records that amend nothing and that nothing already received amends; anything else (a correction, a
revocation, a repair decision, a record an earlier amendment names, a listing, records missing or
reordered) derives everything from scratch. Extending gives exactly what deriving from scratch gives
(tests/unit/test_grading_incremental.py holds it to that), so replay == live is untouched.
"""

from __future__ import annotations

import operator
from bisect import bisect_right, insort
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TypeVar, overload

from services.common.amendments import AMENDMENT_TYPES, Amendment, EffectiveRecord, amendments_of, effective_records
from services.common.records import AcceptedRecord
from services.common.repairs import REPAIR_DECISION, approved_repairs
from services.common.severity import SeverityTable, listed_document_numbers
from services.grading.rules.credit_file import (
    LIST_SHAPES,
    REGISTRATION,
    CreditFile,
    Facts,
    mark_order,
    penalty_order,
    registration_order,
)

_Fact = TypeVar("_Fact")


def _effective_order(e: EffectiveRecord) -> tuple[date, str, str]:
    return (e.record.decision_date, e.record.department, e.record.record_id)


def subject_rank(r: AcceptedRecord) -> tuple[bool, date, datetime, str, str]:
    """Which record says who the subject is (`grades.subject_of`): the latest registration, else the latest."""
    return (r.record_type == REGISTRATION, r.decision_date, r.received_at, r.department, r.record_id)


@dataclass(frozen=True, slots=True)
class _KeptFile:
    severity: SeverityTable | None
    listed: frozenset[str]
    file: CreditFile


class SubjectRecords(Sequence[AcceptedRecord]):
    """A subject's records (a read-only sequence) and what grading derives from them all, derived once."""

    __slots__ = ("_amendments", "_effective", "_files", "_named_by", "_records", "_repairs")

    def __init__(self, records: Iterable[AcceptedRecord], previous: SubjectRecords | None = None) -> None:
        self._records = tuple(records)
        self._files: dict[tuple[date, str, int], _KeptFile] = {}
        if previous is None or not self._extend(previous):
            self._amendments = amendments_of(self._records)
            self._effective = effective_records(self._records)
            self._repairs = approved_repairs(self._records)
            self._named_by = max(self._records, key=subject_rank, default=None)

    def _extend(self, previous: SubjectRecords) -> bool:
        old, n = previous._records, len(previous._records)
        if len(self._records) < n:
            return False
        copies = _copies(old, self._records[:n])
        if copies is None:
            return False
        added = self._records[n:]
        if any(
            r.record_type in AMENDMENT_TYPES
            or r.record_type == REPAIR_DECISION
            or (r.department, r.record_id) in previous._amendments
            for r in added
        ):
            return False
        self._amendments = previous._amendments
        self._repairs = previous._repairs  # only repair decisions and amendments change them
        new = [EffectiveRecord(r, r, Amendment()) for r in added]
        effective = list(previous._effective) if not copies else _adopted(previous._effective, copies)
        for e in new:
            insort(effective, e, key=_effective_order)
        self._effective = effective
        named_by = previous._named_by
        if named_by is not None:
            named_by = copies.get(id(named_by), named_by)
        named = [r for r in (named_by, *added) if r is not None]
        self._named_by = max(named, key=subject_rank, default=None)
        if not any(r.record_type in LIST_SHAPES for r in added):
            # A listing's end depends on the other listings' records; any other fact stands on its own.
            for key, kept in previous._files.items():
                facts = Facts()
                facts.add(new, self._repairs, as_of=key[0], severity=kept.severity, listed=kept.listed)
                file = _extended(kept.file, facts)
                if file is not None:
                    self._files[key] = _KeptFile(kept.severity, kept.listed, file)
        return True

    @property
    def effective(self) -> list[EffectiveRecord]:
        """`effective_records(self)`: never mutate it."""
        return self._effective

    @property
    def amendments(self) -> Mapping[tuple[str, str], Amendment]:
        """`amendments_of(self)`: the records an amendment names (received or not)."""
        return self._amendments

    @property
    def repairs(self) -> Mapping[tuple[str, str], AcceptedRecord]:
        """`approved_repairs(self)`."""
        return self._repairs

    @property
    def named_by(self) -> AcceptedRecord | None:
        """`max(self, key=subject_rank)`: the record whose `subject` says who the subject is."""
        return self._named_by

    def credit_file(self, *, as_of: date, subject_kind: str, severity: SeverityTable | None) -> CreditFile:
        """`build_credit_file(self, ...)`, kept (a few per subject: one per as-of date asked about)."""
        key = (as_of, subject_kind, id(severity))
        kept = self._files.get(key)
        if kept is None or kept.severity is not severity:
            effective = self._effective
            listed = listed_document_numbers(e.record for e in effective) if severity is not None else frozenset()
            facts = Facts()
            facts.add(effective, self._repairs, as_of=as_of, severity=severity, listed=listed)
            file = facts.credit_file(subject_kind=subject_kind, as_of=as_of, repairs=self._repairs)
            if len(self._files) >= 8:
                self._files.pop(next(iter(self._files)))
            kept = self._files[key] = _KeptFile(severity, listed, file)
        # A memo of its own: what an evaluation derives for its days is not kept beyond it.
        return replace(kept.file, memo={})

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, index: int) -> AcceptedRecord: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[AcceptedRecord]: ...

    def __getitem__(self, index: int | slice) -> AcceptedRecord | Sequence[AcceptedRecord]:
        return self._records[index]

    def __iter__(self) -> Iterator[AcceptedRecord]:
        return iter(self._records)


def _copies(kept: Sequence[AcceptedRecord], records: Sequence[AcceptedRecord]) -> dict[int, AcceptedRecord] | None:
    """Whether `records` are the kept ones: None when not; else `id(kept one) -> its copy in records` for
    those that are equal but not the same object (a record consumed in a batch, then read back from the
    table by the next one; or a whole file read again after the files kept parsed dropped it)."""
    if all(map(operator.is_, kept, records)):
        return {}
    copies: dict[int, AcceptedRecord] = {}
    for a, b in zip(kept, records, strict=True):
        if a is not b:
            if a != b:
                return None
            copies[id(a)] = b
    return copies


def _adopted(effective: Sequence[EffectiveRecord], copies: Mapping[int, AcceptedRecord]) -> list[EffectiveRecord]:
    """`effective` on the caller's copies of its unamended records, each given what was derived from the
    kept one (`AcceptedRecord.derived`: the same record, so the same derivation). Holding on to the kept
    objects instead would keep every record twice: once in the files kept parsed (`SubjectFiles`), once
    here, and only the first is counted by either bound (issue 18)."""
    adopted = []
    for e in effective:
        copy = copies.get(id(e.record)) if e.record is e.original else None
        if copy is None:
            adopted.append(e)
            continue
        for key, value in e.record.derived.items():
            copy.derived.setdefault(key, value)
        adopted.append(EffectiveRecord(copy, copy, e.amendment))
    return adopted


def _extended(file: CreditFile, facts: Facts) -> CreditFile | None:
    """`file` with the facts of records added since (no listings among them), each in its place; None
    when one would tie with a fact already there (where the order a fresh build gives is the records')."""
    penalties = _inserted(file.penalties, facts.penalties, penalty_order)
    marks = _inserted(file.marks, facts.marks, mark_order)
    registrations = _inserted(file.registrations, facts.registrations, registration_order)
    if penalties is None or marks is None or registrations is None:
        return None
    return CreditFile(file.subject_kind, file.as_of, registrations, penalties, marks, file.listings)


def _inserted(
    items: tuple[_Fact, ...], added: Sequence[_Fact], order: Callable[[_Fact], tuple[date, str] | tuple[date, str, str]]
) -> tuple[_Fact, ...] | None:
    if not added:
        return items
    kept = list(items)
    for fact in added:
        key = order(fact)
        at = bisect_right(kept, key, key=order)
        if at and order(kept[at - 1]) == key:
            return None
        kept.insert(at, fact)
    return tuple(kept)


class KeptSubjects:
    """Subjects' `SubjectRecords` kept between events (one per grading context, so a replay has its own):
    `of(code, records)` extends the kept one when it can. Bounded like `SubjectFiles`: subjects of at least
    `min_records` records, at most `max_records` records in all, least recently used dropped first. The
    records kept are the caller's (`SubjectFiles`' kept ones: a subject's state moves onto the copies a
    later read gives), so the two bounds count the same records; what the rules derived from a record
    (`AcceptedRecord.derived`, the penalties' kept lines, the kept credit files) is about as large as the
    parsed record and goes with it: ~9 KB resident per record in all (docs/decisions.md, issue 18 — grading
    at S8's scale). The consumer grades subjects of `handlers.STATE_MIN_RECORDS` records or more from their
    kept state (`subject_state`), so this serves the subjects it cannot (a listing among their records) and
    the review, and grading bounds it at `handlers.KEPT_RECORDS` (issue 18 — grading's per-subject state)."""

    def __init__(self, *, max_records: int = 20_000, min_records: int = 16) -> None:
        self.max_records = max_records
        self.min_records = min_records
        self._kept: OrderedDict[str, SubjectRecords] = OrderedDict()
        self._size = 0

    @property
    def size(self) -> int:
        """The records kept, all subjects together (what `max_records` bounds)."""
        return self._size

    def __len__(self) -> int:
        """The subjects kept."""
        return len(self._kept)

    def of(self, code: str, records: Sequence[AcceptedRecord]) -> SubjectRecords:
        if isinstance(records, SubjectRecords):
            return records
        previous = self._kept.pop(code, None)
        if previous is not None:
            self._size -= len(previous)
        current = SubjectRecords(records, previous)
        if len(current) >= self.min_records:
            self._kept[code] = current
            self._size += len(current)
            while self._size > self.max_records and self._kept:
                _, dropped = self._kept.popitem(last=False)
                self._size -= len(dropped)
        return current
