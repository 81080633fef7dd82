"""A subject's credit file: its records, amended (`effective_records`) and reduced to dated facts the
rule engines read. Also the year arithmetic every rule uses.

Time. A period of N years "after" a day D starts the next day and ends at the end of the same month and
day N years later (民法典 Arts. 201-202; DOMAIN §4 counts deadlines the same way); a 29 February has no
such day in a common year, so the period ends on 28 February. Hence a penalty decided on 2026-01-10
counts "within one year" through 2027-01-10 and no longer on 2027-01-11, and a grade "repaired one year
after" 2026-01-10 changes on 2027-01-11.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from services.common.amendments import effective_records
from services.common.records import AcceptedRecord
from services.common.repairs import approved_repairs, repaired_on

DAY = timedelta(days=1)
PENALTY = "administrative_penalty"
REGISTRATION = "subject_registration"
DETAIL_FIELDS = {
    # Dated records the rules may name, with the field whose value(s) a rule can select on.
    PENALTY: "CF_CFLB",
    "administrative_action": "act_kind",
    "credit_commitment": "event",
    "inspection_result": "result",
    "supervision_interview": "interview_kind",
}
DATE_FIELDS = {PENALTY: "CF_JDRQ"}  # every other type carries `decision_date`
AMOUNT_FIELDS = ("CF_NR_FK", "CF_NR_WFFF")


@dataclass(frozen=True, slots=True)
class _ListShape:
    stage_field: str
    entries: frozenset[str]
    exits: frozenset[str]
    key_field: str | None
    """An exit ends the open entries of the same department with the same key (None: any of that type)."""
    end_field: str | None
    """The last day of the listing stated on the entry, if any."""


LIST_SHAPES = {
    "abnormal_operation_listing": _ListShape("action", frozenset({"列入"}), frozenset({"移出"}), None, None),
    "judgment_defaulter_listing": _ListShape(
        "action", frozenset({"列入"}), frozenset({"屏蔽", "撤销", "移出"}), "case_no", "listing_period_end"
    ),
    # 拟列入告知 is a prior notice, not a listing (DOMAIN §3 item 5): it is neither entry nor exit.
    "serious_untrustworthy_listing": _ListShape(
        "stage", frozenset({"认定"}), frozenset({"移出"}), "list_name", "listing_period_end"
    ),
    "red_list": _ListShape("action", frozenset({"列入"}), frozenset({"移出"}), "list_name", "valid_until"),
    "watch_list": _ListShape("action", frozenset({"列入"}), frozenset({"移出"}), "list_name", "watch_until"),
}


def years_after(day: date, years: int) -> date:
    """The last day of the period of `years` years after `day` (29 February → 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def one_year_after(day: date) -> date:
    """The last day of the year after `day`: 2026-01-10 → 2027-01-10; 2024-02-29 → 2025-02-28."""
    return years_after(day, 1)


def within_years(event: date, day: date, years: int) -> bool:
    """Whether `event` is "within `years` years" on `day`: event <= day <= years_after(event, years)."""
    return event <= day <= years_after(event, years)


def to_yuan(wan_yuan: object) -> Decimal:
    """万元 (a JSON number) → yuan, exactly: 3 → 30000, 3.000001 → 30000.01. Never float arithmetic."""
    if isinstance(wan_yuan, bool) or not isinstance(wan_yuan, int | float | str | Decimal):
        raise ValueError(f"not an amount in 万元: {wan_yuan!r}")
    return Decimal(str(wan_yuan)) * 10000


@dataclass(frozen=True, slots=True)
class Penalty:
    record_id: str
    department: str
    decided_on: date
    kinds: frozenset[str]
    amounts_yuan: Mapping[str, Decimal]
    """CF_NR_FK / CF_NR_WFFF converted to yuan, when present."""
    licence: str | None
    """CF_NR_ZKDX: the licence suspended or revoked."""
    corrected: bool


@dataclass(frozen=True, slots=True)
class Mark:
    """A dated record a rule may name: a penalty, an administrative act, a commitment event …"""

    record_id: str
    department: str
    record_type: str
    decided_on: date
    details: frozenset[str]


@dataclass(frozen=True, slots=True)
class Listing:
    """One entry on a list, in force from `start` until the day before `end` (None: still open)."""

    record_id: str
    department: str
    record_type: str
    name: str
    start: date
    end: date | None
    serious_social_impact: bool

    def in_force(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


@dataclass(frozen=True, slots=True)
class Registration:
    record_id: str
    department: str
    decided_on: date
    event: str
    establishment_date: date
    industry_risk: str
    region_class: str


@dataclass(frozen=True, slots=True)
class CreditFile:
    """Everything decided on or before `as_of` that the rules read, each tuple ordered by date then id."""

    subject_kind: str
    as_of: date
    registrations: tuple[Registration, ...]
    penalties: tuple[Penalty, ...]
    marks: tuple[Mark, ...]
    listings: tuple[Listing, ...]

    def registration_on(self, day: date) -> Registration | None:
        """The latest registration record decided on or before `day`."""
        known = [r for r in self.registrations if r.decided_on <= day]
        return known[-1] if known else None

    @property
    def establishment_date(self) -> date | None:
        latest = self.registration_on(self.as_of)
        return latest.establishment_date if latest else None

    def resumptions(self) -> tuple[Registration, ...]:
        """恢复营业 records (000 L196)."""
        return tuple(r for r in self.registrations if r.event == "恢复营业")

    def closure_on(self, day: date) -> Registration | None:
        """The 注销 record decided on or before `day`, if the subject is deregistered."""
        closed = [r for r in self.registrations if r.event == "注销" and r.decided_on <= day]
        return closed[0] if closed else None

    def change_dates(self, years: Iterable[int]) -> frozenset[date]:
        """Every day on which some rule's answer may change: a fact starts or ends, or a period of
        `years` after a fact ends (the day after its last day)."""
        spans = set(years)
        points: set[date] = set()
        dated = [p.decided_on for p in self.penalties] + [m.decided_on for m in self.marks]
        dated += [r.decided_on for r in self.registrations]
        for day in dated:
            points.add(day)
            points.update(years_after(day, n) + DAY for n in spans)
        for listing in self.listings:
            points.add(listing.start)
            if listing.end is not None:
                points.add(listing.end)
        return frozenset(points)


def build_credit_file(records: Sequence[AcceptedRecord], *, as_of: date, subject_kind: str) -> CreditFile:
    """The credit file of one subject on `as_of`, from all its records (amendments included).

    Corrections apply as if the record had been right from the start and revoked records are gone
    (`effective_records`); then only what was decided on or before `as_of` is kept. A penalty whose credit
    repair the deciding department approved (准予修复) on or before `as_of` is no longer a basis for the
    grade (DOMAIN §9: repair stops sharing and lifts sanctions; docs/decisions.md).
    """
    repairs = approved_repairs(records)
    penalties: list[Penalty] = []
    marks: list[Mark] = []
    registrations: list[Registration] = []
    entries: list[AcceptedRecord] = []
    exits: list[AcceptedRecord] = []
    for effective in effective_records(records):
        record = effective.record
        decided_on = _decided_on(record)
        if decided_on > as_of:
            continue
        if record.record_type == PENALTY and _repaired_by(repairs, record, as_of) is not None:
            continue
        if record.record_type == PENALTY:
            penalties.append(_penalty(record, decided_on, corrected=effective.corrected))
        if record.record_type in DETAIL_FIELDS:
            marks.append(Mark(record.record_id, record.department, record.record_type, decided_on, _details(record)))
        elif record.record_type == REGISTRATION:
            registrations.append(_registration(record, decided_on))
        elif record.record_type in LIST_SHAPES:
            shape = LIST_SHAPES[record.record_type]
            stage = record.data.get(shape.stage_field)
            if stage in shape.entries:
                entries.append(record)
            elif stage in shape.exits:
                exits.append(record)
    listings = [_listing(entry, exits, _repaired_by(repairs, entry, as_of)) for entry in entries]
    return CreditFile(
        subject_kind=subject_kind,
        as_of=as_of,
        registrations=tuple(sorted(registrations, key=lambda r: (r.decided_on, r.record_id))),
        penalties=tuple(sorted(penalties, key=lambda p: (p.decided_on, p.department, p.record_id))),
        marks=tuple(sorted(marks, key=lambda m: (m.decided_on, m.department, m.record_id))),
        listings=tuple(sorted(listings, key=lambda x: (x.start, x.department, x.record_id))),
    )


def _repaired_by(repairs: Mapping[tuple[str, str], AcceptedRecord], record: AcceptedRecord, as_of: date) -> date | None:
    day = repaired_on(repairs, record)
    return day if day is not None and day <= as_of else None


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _decided_on(record: AcceptedRecord) -> date:
    # The (corrected) data's own decision date; the envelope's is the one originally reported.
    value = record.data.get(DATE_FIELDS.get(record.record_type, "decision_date"))
    return record.decision_date if value is None else _date(value)


def _details(record: AcceptedRecord) -> frozenset[str]:
    value = record.data.get(DETAIL_FIELDS[record.record_type])
    values = value if isinstance(value, list) else [] if value is None else [value]
    return frozenset(str(v) for v in values)


def _penalty(record: AcceptedRecord, decided_on: date, *, corrected: bool) -> Penalty:
    data = record.data
    amounts = {name: to_yuan(data[name]) for name in AMOUNT_FIELDS if data.get(name) is not None}
    licence = data.get("CF_NR_ZKDX")
    return Penalty(
        record_id=record.record_id,
        department=record.department,
        decided_on=decided_on,
        kinds=frozenset(str(k) for k in data.get("CF_CFLB", [])),
        amounts_yuan=amounts,
        licence=None if licence is None else str(licence),
        corrected=corrected,
    )


def _registration(record: AcceptedRecord, decided_on: date) -> Registration:
    data = record.data
    return Registration(
        record_id=record.record_id,
        department=record.department,
        decided_on=decided_on,
        event=str(data["event"]),
        establishment_date=_date(data["establishment_date"]),
        industry_risk=str(data["industry_risk"]),
        region_class=str(data["region_class"]),
    )


def _key(record: AcceptedRecord, *, entry: bool) -> str | None:
    if record.record_type == "abnormal_operation_listing":
        # A removal names the listing it ends (listing_record_id); without it, it ends every open one.
        value = record.record_id if entry else record.data.get("listing_record_id")
        return None if value is None else str(value)
    field = LIST_SHAPES[record.record_type].key_field
    value = record.data.get(field) if field else None
    return None if value is None else str(value)


def _listing(entry: AcceptedRecord, exits: Sequence[AcceptedRecord], repaired: date | None = None) -> Listing:
    """The entry in force until the earliest of: a matching exit, its stated end, an approved repair."""
    shape = LIST_SHAPES[entry.record_type]
    start = _decided_on(entry)
    key = _key(entry, entry=True)
    ends = [
        _decided_on(x)
        for x in exits
        if x.record_type == entry.record_type
        and x.department == entry.department
        and _decided_on(x) >= start
        and (_key(x, entry=False) in (None, key))
    ]
    stated_end = entry.data.get(shape.end_field) if shape.end_field else None
    if stated_end is not None:
        ends.append(_date(stated_end) + DAY)
    if repaired is not None and repaired >= start:
        ends.append(repaired)
    name = entry.data.get("list_name") or entry.data.get("listing_reason") or entry.record_type
    return Listing(
        record_id=entry.record_id,
        department=entry.department,
        record_type=entry.record_type,
        name=str(name),
        start=start,
        end=min(ends) if ends else None,
        serious_social_impact=bool(entry.data.get("causes_serious_social_impact", False)),
    )
