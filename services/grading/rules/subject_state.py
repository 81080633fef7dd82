"""A subject's grading state: what grading needs of its records, without the records (issue 18, S8's scale).

A subject with a long history costs, at every event, the read and parse of its records and the derivation
of its credit file from them (`effective_records`, approved repairs, one `Penalty`/`Mark` per record), unless
the process still holds them (`SubjectFiles`, `KeptSubjects`, bounded: 2,000 subjects of 300 records do not
fit). `SubjectState` is that derivation in a compact form the service keeps in PostgreSQL, one row per
subject (`grading.subject_state`, stamped with the records it was derived from): the facts of the credit
file on any day (each with the day a repair approved before it was received takes effect, if any), who the
subject is and by which record, the keys of every record, those an amendment or an approved repair names.
An event of a subject with a state reads that row and the new records, not the history.

- `state_of(records)`: derived from the records (None when the subject has a listing record: a listing's
  end depends on the other listings' records, so such a subject is always graded from its records).
- `extended(state, added)`: the state of the records plus `added`, or None when `added` holds anything the
  extension cannot take (a record it already holds, an amendment, a repair decision, a listing, a record an
  amendment or a repair received before it names, a fact that would tie with one already there): the
  caller grades a copy with the state as it is, and derives anything else from the records. Equal to
  `state_of(records + added)` whenever it is not None.
- `SubjectState.credit_file(...)` is `build_credit_file(records, ...)` (no severity table: the chongqing
  engine; benxi's tiers depend on the whole file), `len` the records' count, `subject` and `repair_days`
  what `grades.subject_of` and `grades._since_repair` read; every grading function takes it where it takes
  the records (`tests/unit/test_grading_state.py` holds both paths to the same grades, explanations and
  change events, event by event).
- `encode` / `decode`: plain data (orjson), dates as ordinals, amounts as exact decimal strings.

Pure: no I/O, no wall clock.
"""

from __future__ import annotations

import hashlib
import inspect
import secrets
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar, overload

import orjson

from services.common.amendments import AMENDMENT_TYPES, amendments_of, effective_records
from services.common.records import AcceptedRecord
from services.common.repairs import REPAIR_DECISION, approved_repairs
from services.common.severity import SeverityTable
from services.grading.rules.credit_file import (
    DETAIL_FIELDS,
    LIST_SHAPES,
    PENALTY,
    REGISTRATION,
    CreditFile,
    LicenceAction,
    Mark,
    Penalty,
    Registration,
    _decided_on,
    _details,
    _penalty,
    _registration,
    mark_order,
    penalty_order,
    registration_order,
)
from services.grading.rules.subject_records import SubjectRecords, subject_rank

ENCODING = 1
"""The version of `encode`'s layout: bump it when the rows change shape (`FORMAT` follows)."""

Key = tuple[str, str]
Rank = tuple[bool, date, datetime, str, str]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class NamedSubject:
    """Who the records say the subject is (`grades.subject_of`), and the rank of the record that says it."""

    kind: str
    name: str
    rank: Rank


class SubjectState(Sequence[AcceptedRecord]):
    """What grading derives from a subject's records, without them: takes the records' place in
    `grades.compute`, `subject_of`, `effective_date` and `change_event` (its length is the records' count);
    it holds no record, so reading one is an error."""

    __slots__ = (
        "_by_date",
        "_files",
        "_plain",
        "_repaired_marks",
        "_repaired_penalties",
        "amended",
        "keys",
        "marks",
        "penalties",
        "record_count",
        "registrations",
        "repairs",
        "subject",
    )

    def __init__(
        self,
        *,
        record_count: int,
        keys: frozenset[Key],
        subject: NamedSubject,
        amended: frozenset[Key],
        repairs: Mapping[Key, date],
        penalties: tuple[tuple[Penalty, date | None], ...],
        marks: tuple[tuple[Mark, date | None], ...],
        registrations: tuple[Registration, ...],
        plain: dict[str, Any] | None = None,
    ) -> None:
        self.record_count = record_count
        self.keys = keys
        """(department, record id) of every record."""
        self.subject = subject
        self.amended = amended
        """The records an amendment names (received or not)."""
        self.repairs = repairs
        """The records an approved repair names (received or not) → the repair's decision date."""
        self.penalties = penalties
        """Every effective penalty (decided on any day, not repaired), in the credit file's order, with the
        day its repair takes effect (None: never)."""
        self.marks = marks
        """Likewise the marks (dated records a rule may name, penalties included)."""
        self.registrations = registrations
        self._files: dict[tuple[date, str], CreditFile] = {}
        self._by_date: tuple[list[date], tuple[Penalty, ...], list[date], tuple[Mark, ...]] | None = None
        self._plain = plain
        """What `encode` writes, kept with a decoded state and maintained by `extended`: an event encodes
        only its new facts (the rest is orjson's own work on lists it already has)."""
        self._repaired_penalties: dict[int, Penalty] = {}
        self._repaired_marks: dict[int, Mark] = {}

    @property
    def repair_days(self) -> frozenset[date]:
        """The decision dates of the approved repairs (`grades._since_repair`)."""
        return frozenset(self.repairs.values())

    def credit_file(self, *, as_of: date, subject_kind: str, severity: SeverityTable | None) -> CreditFile:
        """`build_credit_file(records, ...)` (kept for the other days an evaluation asks about)."""
        if severity is not None:
            raise TypeError("a subject's grading state has no severity tiers (benxi grades from the records)")
        key = (as_of, subject_kind)
        file = self._files.get(key)
        if file is None:
            # Each tuple is ordered by decision date first: the facts decided by as_of are a prefix of it.
            if self._by_date is None:
                self._by_date = (
                    [p.decided_on for p, _ in self.penalties],
                    tuple(p for p, _ in self.penalties),
                    [m.decided_on for m, _ in self.marks],
                    tuple(m for m, _ in self.marks),
                )
            penalty_dates, all_penalties, mark_dates, all_marks = self._by_date
            penalties = all_penalties[: bisect_right(penalty_dates, as_of)]
            marks = all_marks[: bisect_right(mark_dates, as_of)]
            if self.repairs:
                penalties = tuple(self._penalty_on(p, day, as_of) for p, day in self.penalties[: len(penalties)])
                marks = tuple(self._mark_on(m, day, as_of) for m, day in self.marks[: len(marks)])
            registrations = tuple(r for r in self.registrations if r.decided_on <= as_of)
            file = self._files[key] = CreditFile(subject_kind, as_of, registrations, penalties, marks, ())
        # A memo of its own, as `SubjectRecords.credit_file` gives: the facts' memos are the shared ones.
        return replace(file, memo={})

    def _penalty_on(self, penalty: Penalty, repair_day: date | None, as_of: date) -> Penalty:
        if repair_day is None or repair_day > as_of:
            return penalty
        found = self._repaired_penalties.get(id(penalty))
        if found is None:
            # One repaired copy per penalty with a memo of its own (`replace` would share the penalty's, which
            # holds what the rules derived from it unrepaired), kept for every day asked about.
            found = self._repaired_penalties[id(penalty)] = replace(penalty, repaired=True, memo={})
        return found

    def _mark_on(self, mark: Mark, repair_day: date | None, as_of: date) -> Mark:
        if repair_day is None or repair_day > as_of:
            return mark
        found = self._repaired_marks.get(id(mark))
        if found is None:
            found = self._repaired_marks[id(mark)] = replace(mark, repaired=True)
        return found

    def __len__(self) -> int:
        return self.record_count

    @overload
    def __getitem__(self, index: int) -> AcceptedRecord: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[AcceptedRecord]: ...

    def __getitem__(self, index: int | slice) -> AcceptedRecord | Sequence[AcceptedRecord]:
        raise TypeError("a subject's grading state holds no records")

    def __iter__(self) -> Iterator[AcceptedRecord]:
        raise TypeError("a subject's grading state holds no records")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SubjectState):
            return NotImplemented
        return _fields(self) == _fields(other)

    __hash__ = None  # type: ignore[assignment]


def _fields(state: SubjectState) -> tuple[object, ...]:
    return (
        state.record_count,
        state.keys,
        state.subject,
        state.amended,
        dict(state.repairs),
        state.penalties,
        state.marks,
        state.registrations,
    )


class _NotKept(Exception):
    """A record the state cannot take (the caller derives from the records)."""


def _facts(
    record: AcceptedRecord, corrected: bool, repairs: Mapping[Key, date]
) -> tuple[tuple[Penalty, date | None] | None, tuple[Mark, date | None] | None, Registration | None]:
    """The facts `credit_file.Facts.add` makes of one effective record, whatever the as-of day (not repaired),
    with the day a repair takes effect: a penalty's approved repair, unless the law marks it non-repairable."""
    decided_on = _decided_on(record)
    if record.record_type in LIST_SHAPES:
        raise _NotKept
    repair_day = None
    if record.record_type == PENALTY and record.data.get("non_repairable") is not True:
        repair_day = repairs.get((record.department, record.record_id))
    penalty = mark = registration = None
    if record.record_type == PENALTY:
        key = ("grading.penalty", corrected, False)
        found = record.derived.get(key)
        if found is None:
            found = record.derived[key] = _penalty(record, decided_on, corrected=corrected, repaired=False)
        penalty = (found, repair_day)
    if record.record_type in DETAIL_FIELDS:
        document = record.data.get("document_no")
        mark = (
            Mark(
                record.record_id,
                record.department,
                record.record_type,
                decided_on,
                _details(record),
                None,
                str(document) if document else None,
                False,
            ),
            repair_day,
        )
    elif record.record_type == REGISTRATION:
        registration = _registration(record, decided_on)
    return penalty, mark, registration


def _named(record: AcceptedRecord) -> NamedSubject:
    subject = record.record["subject"]
    return NamedSubject(str(subject["kind"]), str(subject.get("name", "")), subject_rank(record))


def state_of(records: Sequence[AcceptedRecord]) -> SubjectState | None:
    """The state of a subject's records (a `SubjectRecords` gives what it already derived); None when there
    are none, when one is a listing, or when a record the rules would read is malformed (the grading from
    the records says so, on the days it reads it)."""
    if not records or any(r.record_type in LIST_SHAPES for r in records):
        return None
    if isinstance(records, SubjectRecords):
        effective, repairs, named_by = records.effective, records.repairs, records.named_by
        amended = frozenset(records.amendments)
    else:
        effective, repairs = effective_records(records), approved_repairs(records)
        named_by = max(records, key=subject_rank)
        amended = frozenset(amendments_of(records))
    repair_days = {key: approval.decision_date for key, approval in repairs.items()}
    penalties: list[tuple[Penalty, date | None]] = []
    marks: list[tuple[Mark, date | None]] = []
    registrations: list[Registration] = []
    try:
        for e in effective:
            penalty, mark, registration = _facts(e.record, e.corrected, repair_days)
            if penalty is not None:
                penalties.append(penalty)
            if mark is not None:
                marks.append(mark)
            if registration is not None:
                registrations.append(registration)
        subject = None if named_by is None else _named(named_by)
    except (_NotKept, KeyError, TypeError, ValueError, AttributeError):
        return None
    if subject is None:
        return None
    return SubjectState(
        record_count=len(records),
        keys=frozenset((r.department, r.record_id) for r in records),
        subject=subject,
        amended=amended,
        repairs=repair_days,
        penalties=tuple(sorted(penalties, key=_first(penalty_order))),
        marks=tuple(sorted(marks, key=_first(mark_order))),
        registrations=tuple(sorted(registrations, key=registration_order)),
    )


def _first(order: Callable[[Any], _T]) -> Callable[[tuple[Any, date | None]], _T]:
    return lambda pair: order(pair[0])


def extended(state: SubjectState, added: Iterable[AcceptedRecord]) -> SubjectState | None:
    """`state_of(records + added)` from `state_of(records)`, or None when the extension cannot give it."""
    penalties, marks = list(state.penalties), list(state.marks)
    registrations = list(state.registrations)
    keys = set(state.keys)
    subject = state.subject
    count = state.record_count
    plain = state._plain
    rows: dict[str, list[Any]] = {}
    if plain is not None:
        rows = {name: list(plain[name]) for name in ("keys", "penalties", "marks", "registrations")}
    try:
        for record in added:
            key = (record.department, record.record_id)
            if (
                key in keys
                or record.record_type in AMENDMENT_TYPES
                or record.record_type == REPAIR_DECISION
                or key in state.amended
                or key in state.repairs
            ):
                return None
            penalty, mark, registration = _facts(record, False, state.repairs)
            at = (
                -2 if penalty is None else _insert(penalties, penalty, _first(penalty_order)),
                -2 if mark is None else _insert(marks, mark, _first(mark_order)),
                -2 if registration is None else _insert(registrations, registration, registration_order),
            )
            if -1 in at:
                return None
            rank = subject_rank(record)
            if rank > subject.rank:
                subject = _named(record)
            keys.add(key)
            count += 1
            if rows:
                rows["keys"].append([*key])
                if penalty is not None:
                    rows["penalties"].insert(at[0], _penalty_row(*penalty))
                if mark is not None:
                    rows["marks"].insert(at[1], _mark_row(*mark))
                if registration is not None:
                    rows["registrations"].insert(at[2], _registration_row(registration))
    except (_NotKept, KeyError, TypeError, ValueError, AttributeError):
        return None
    if plain is not None:
        plain = {**plain, **rows, "count": count, "subject": _subject_row(subject)}
    return SubjectState(
        record_count=count,
        keys=frozenset(keys),
        subject=subject,
        amended=state.amended,
        repairs=state.repairs,
        penalties=tuple(penalties),
        marks=tuple(marks),
        registrations=tuple(registrations),
        plain=plain,
    )


def _insert(items: list[_T], item: _T, order: Callable[[_T], Any]) -> int:
    """Insert in order and say where; -1 when it ties with one there (a fresh build orders those by the
    records)."""
    key = order(item)
    at = bisect_right(items, key, key=order)
    if at and order(items[at - 1]) == key:
        return -1
    items.insert(at, item)
    return at


def _day(value: date | None) -> int | None:
    return None if value is None else value.toordinal()


def _date(value: int | None) -> date | None:
    return None if value is None else date.fromordinal(value)


def encode(state: SubjectState) -> bytes:
    if state._plain is None:
        state._plain = {
            "format": FORMAT,
            "count": state.record_count,
            "keys": [[*key] for key in state.keys],
            "subject": _subject_row(state.subject),
            "amended": sorted(state.amended),
            "repairs": [[d, r, day.toordinal()] for (d, r), day in sorted(state.repairs.items())],
            "penalties": [_penalty_row(p, day) for p, day in state.penalties],
            "marks": [_mark_row(m, day) for m, day in state.marks],
            "registrations": [_registration_row(r) for r in state.registrations],
        }
    return orjson.dumps(state._plain)


def _subject_row(s: NamedSubject) -> list[object]:
    return [s.kind, s.name, s.rank[0], s.rank[1].toordinal(), s.rank[2].isoformat(), s.rank[3], s.rank[4]]


def _penalty_row(p: Penalty, day: date | None) -> list[object]:
    return [
        p.record_id,
        p.department,
        p.decided_on.toordinal(),
        [*p.kinds],
        {name: str(amount) for name, amount in p.amounts_yuan.items()},
        p.licence,
        p.corrected,
        [[a.action, a.kind, a.name] for a in p.licence_actions],
        p.split_estimated,
        _day(day),
    ]


def _mark_row(m: Mark, day: date | None) -> list[object]:
    return [m.record_id, m.department, m.record_type, m.decided_on.toordinal(), [*m.details], m.document_no, _day(day)]


def _registration_row(r: Registration) -> list[object]:
    return [
        r.record_id,
        r.department,
        r.decided_on.toordinal(),
        r.event,
        r.establishment_date.toordinal(),
        r.industry_risk,
        r.region_class,
    ]


def decode(data: bytes) -> SubjectState | None:
    """The state `encode` wrote; None for another format's row."""
    plain = orjson.loads(data)
    if plain.get("format") != FORMAT:
        return None
    kind, name, registration, decided, received, department, record_id = plain["subject"]
    rank = (registration, date.fromordinal(decided), datetime.fromisoformat(received), department, record_id)
    return SubjectState(
        record_count=plain["count"],
        keys=frozenset((d, r) for d, r in plain["keys"]),
        subject=NamedSubject(kind, name, rank),
        amended=frozenset((d, r) for d, r in plain["amended"]),
        repairs={(d, r): date.fromordinal(day) for d, r, day in plain["repairs"]},
        penalties=tuple(
            (
                Penalty(
                    record_id=p[0],
                    department=p[1],
                    decided_on=date.fromordinal(p[2]),
                    kinds=frozenset(p[3]),
                    amounts_yuan={n: Decimal(a) for n, a in p[4].items()},
                    licence=p[5],
                    corrected=p[6],
                    licence_actions=tuple(LicenceAction(a, k, n) for a, k, n in p[7]),
                    split_estimated=p[8],
                ),
                _date(p[9]),
            )
            for p in plain["penalties"]
        ),
        marks=tuple(
            (Mark(m[0], m[1], m[2], date.fromordinal(m[3]), frozenset(m[4]), None, m[5]), _date(m[6]))
            for m in plain["marks"]
        ),
        registrations=tuple(
            Registration(r[0], r[1], date.fromordinal(r[2]), r[3], date.fromordinal(r[4]), r[5], r[6])
            for r in plain["registrations"]
        ),
        plain=plain,
    )


def _format() -> str:
    """The layout's version and a digest of the code that derives the kept facts and of the tables it reads:
    a row written by other code is not read (the subject is derived from its records, and its state written
    again), so a change to how a fact is derived can never leave live grading on facts a replay would not
    derive. No one has to remember a bump. Without the sources (a build that strips them) every start has a
    format of its own: states are derived again, never trusted."""
    from services.common import amendments, repairs
    from services.grading.rules import credit_file, subject_records

    deriving: list[Any] = [
        credit_file._penalty,
        credit_file._confiscations,
        credit_file.licence_actions_from_text,
        credit_file.to_yuan,
        credit_file._details,
        credit_file._registration,
        credit_file._decided_on,
        credit_file._date,
        credit_file.Penalty,
        credit_file.Mark,
        credit_file.Registration,
        amendments.amendments_of,
        amendments.effective_records,
        repairs.approved_repairs,
        subject_records.subject_rank,
        _facts,
        state_of,
        extended,
    ]
    tables = [
        credit_file.DETAIL_FIELDS,
        credit_file.DATE_FIELDS,
        credit_file.AMOUNT_FIELDS,
        credit_file.CONFISCATION_FIELDS,
        credit_file.LICENCE_VERBS,
        sorted(credit_file.LIST_SHAPES),
    ]
    try:
        text = "".join(inspect.getsource(f) for f in deriving) + repr(tables)
    except (OSError, TypeError):
        text = secrets.token_hex(16)
    return f"{ENCODING}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


FORMAT = _format()
"""What a stored row must carry to be read (`_format`)."""
