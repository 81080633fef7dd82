"""A subject's credit file: its records, amended (`effective_records`) and reduced to dated facts the
rule engines read. Also the year arithmetic every rule uses.

Time. A period of N years "after" a day D starts the next day and ends at the end of the same month and
day N years later (民法典 Arts. 201-202; DOMAIN §4 counts deadlines the same way); a 29 February has no
such day in a common year, so the period ends on 28 February. Hence a penalty decided on 2026-01-10
counts "within one year" through 2027-01-10 and no longer on 2027-01-11, and a grade "repaired one year
after" 2026-01-10 changes on 2027-01-11.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from services.common.amendments import EffectiveRecord, effective_records
from services.common.records import AcceptedRecord
from services.common.repairs import approved_repairs, repaired_on
from services.common.severity import SeverityTable, listed_document_numbers, severity_of
from services.common.vocabulary import RecordTypeName

DAY = timedelta(days=1)
PENALTY = RecordTypeName.ADMINISTRATIVE_PENALTY
REGISTRATION = RecordTypeName.SUBJECT_REGISTRATION
DETAIL_FIELDS: dict[str, str] = {
    # Dated records the rules may name, with the field whose value(s) a rule can select on.
    PENALTY: "CF_CFLB",
    RecordTypeName.ADMINISTRATIVE_ACTION: "act_kind",
    RecordTypeName.CREDIT_COMMITMENT: "event",
    RecordTypeName.INSPECTION_RESULT: "result",
    RecordTypeName.SUPERVISION_INTERVIEW: "interview_kind",
    RecordTypeName.SUPERVISION_LEVEL_RAISE: "raised_level",  # a district's raise of the supervision level (000 L295)
}
DATE_FIELDS: dict[str, str] = {PENALTY: "CF_JDRQ"}  # every other type carries `decision_date`
AMOUNT_FIELDS = ("CF_NR_FK", "CF_NR_WFFF")
GAINS, PROPERTY = "confiscated_gains", "confiscated_property"
"""v2 penalty: the two confiscations apart (万元); v1 has only their total, CF_NR_WFFF."""
CONFISCATION_FIELDS = {"没收违法所得": GAINS, "没收非法财物": PROPERTY}
LICENCE_VERBS = {"暂扣许可证件": "暂扣", "吊销许可证件": "吊销"}
"""The national 处罚类别 of a licence action → the verb the free text CF_NR_ZKDX uses for it."""
_ITEM_SEPARATORS = "；;。，,\n"


@dataclass(frozen=True, slots=True)
class _ListShape:
    stage_field: str
    entries: frozenset[str]
    exits: frozenset[str]
    key_field: str | None
    """An exit ends the open entries of the same department with the same key (None: any of that type)."""
    end_field: str | None
    """The last day of the listing stated on the entry, if any."""


LIST_SHAPES: dict[str, _ListShape] = {
    RecordTypeName.ABNORMAL_OPERATION_LISTING: _ListShape(
        "action", frozenset({"列入"}), frozenset({"移出"}), None, None
    ),
    RecordTypeName.JUDGMENT_DEFAULTER_LISTING: _ListShape(
        "action", frozenset({"列入"}), frozenset({"屏蔽", "撤销", "移出"}), "case_no", "listing_period_end"
    ),
    # 拟列入告知 is a prior notice, not a listing (DOMAIN §3 item 5): it is neither entry nor exit.
    RecordTypeName.SERIOUS_UNTRUSTWORTHY_LISTING: _ListShape(
        "stage", frozenset({"认定"}), frozenset({"移出"}), "list_name", "listing_period_end"
    ),
    RecordTypeName.RED_LIST: _ListShape("action", frozenset({"列入"}), frozenset({"移出"}), "list_name", "valid_until"),
    RecordTypeName.WATCH_LIST: _ListShape(
        "action", frozenset({"列入"}), frozenset({"移出"}), "list_name", "watch_until"
    ),
}


@lru_cache(maxsize=8192)
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
class LicenceAction:
    """One licence a penalty suspends or revokes: v2's `licence_actions` item, or read from v1's free text."""

    action: str | None
    """暂扣 or 吊销; None when the v1 text does not say which (and the record names both kinds)."""
    kind: str | None
    """v2's kind (营业执照, 许可证件 …); None for v1."""
    name: str

    def names(self, licence: str) -> bool:
        return self.kind == licence or licence in self.name


@dataclass(frozen=True, slots=True)
class Penalty:
    record_id: str
    department: str
    decided_on: date
    kinds: frozenset[str]
    amounts_yuan: Mapping[str, Decimal]
    """CF_NR_FK / CF_NR_WFFF / confiscated_gains / confiscated_property in yuan, when known. A v1 record
    naming both confiscations has only their total: each is taken as half of it (`split_estimated`)."""
    licence: str | None
    """CF_NR_ZKDX: the licences suspended or revoked (national free text)."""
    corrected: bool
    licence_actions: tuple[LicenceAction, ...] = ()
    split_estimated: bool = False
    repaired: bool = False
    """A national repair was approved on or before as_of (and the record is not marked non_repairable)."""
    memo: dict[object, Any] = dataclasses.field(default_factory=dict, compare=False, hash=False, repr=False)
    """What the engines derive from this penalty alone (its classification, its explanation lines): a
    penalty is kept with its record (`AcceptedRecord.derived`), so a later event of the subject reuses them."""


@dataclass(frozen=True, slots=True)
class Mark:
    """A dated record a rule may name: a penalty, an administrative act, a commitment event …"""

    record_id: str
    department: str
    record_type: str
    decided_on: date
    details: frozenset[str]
    severity: str | None = None
    """Penalties: the tier of the shared severity table (轻微 / 一般 / 严重), when a table was given."""
    document_no: str | None = None
    repaired: bool = False


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
    document_no: str | None = None

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
    memo: dict[object, Any] = dataclasses.field(default_factory=dict, compare=False, hash=False, repr=False)
    """What the engines derive from one fact, kept for the other days they assess on the same file (an
    evaluation asks about several days; a fact's classification does not depend on the day)."""

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
        spans = frozenset(years)
        key = ("change_dates", spans)
        found: frozenset[date] | None = self.memo.get(key)
        if found is not None:
            return found
        # A long history has few distinct days: each is counted once.
        dated = {p.decided_on for p in self.penalties} | {m.decided_on for m in self.marks}
        dated |= {r.decided_on for r in self.registrations}
        points = set(dated)
        for day in dated:
            points.update(years_after(day, n) + DAY for n in spans)
        for listing in self.listings:
            points.add(listing.start)
            if listing.end is not None:
                points.add(listing.end)
        found = self.memo[key] = frozenset(points)
        return found


def build_credit_file(
    records: Sequence[AcceptedRecord], *, as_of: date, subject_kind: str, severity: SeverityTable | None = None
) -> CreditFile:
    """The credit file of one subject on `as_of`, from all its records (amendments included).

    Corrections apply as if the record had been right from the start and revoked records are gone
    (`effective_records`); then only what was decided on or before `as_of` is kept. A penalty whose credit
    repair the deciding department approved (准予修复) on or before `as_of` is marked `repaired`; what that
    does is each rule set's `national_repair` (DOMAIN §9; docs/decisions.md). A penalty the law marks
    non-repairable (v2 `non_repairable: true`) is never marked repaired, whatever was approved.
    With `severity`, every penalty mark carries its tier from the shared table (services/common/severity.py).

    `SubjectRecords` (a subject's records kept between events) gives the same file, kept and extended;
    `SubjectState` (what grading keeps of a subject instead of its records) gives it from its facts.
    """
    from services.grading.rules.subject_records import SubjectRecords
    from services.grading.rules.subject_state import SubjectState

    if isinstance(records, SubjectRecords | SubjectState):
        return records.credit_file(as_of=as_of, subject_kind=subject_kind, severity=severity)
    repairs = approved_repairs(records)
    effective_list = list(effective_records(records))
    listed = listed_document_numbers(e.record for e in effective_list) if severity is not None else frozenset()
    facts = Facts()
    facts.add(effective_list, repairs, as_of=as_of, severity=severity, listed=listed)
    return facts.credit_file(subject_kind=subject_kind, as_of=as_of, repairs=repairs)


@dataclass(slots=True)
class Facts:
    """The facts of a credit file, gathered record by record (`add`), then ordered into the file."""

    penalties: list[Penalty] = dataclasses.field(default_factory=list)
    marks: list[Mark] = dataclasses.field(default_factory=list)
    registrations: list[Registration] = dataclasses.field(default_factory=list)
    entries: list[AcceptedRecord] = dataclasses.field(default_factory=list)
    exits: list[AcceptedRecord] = dataclasses.field(default_factory=list)

    def add(
        self,
        effective_list: Iterable[EffectiveRecord],
        repairs: Mapping[tuple[str, str], AcceptedRecord],
        *,
        as_of: date,
        severity: SeverityTable | None,
        listed: frozenset[str],
    ) -> None:
        for effective in effective_list:
            record = effective.record
            decided_on = _decided_on(record)
            if decided_on > as_of:
                continue
            repaired = (
                record.record_type == PENALTY
                and _repaired_by(repairs, record, as_of) is not None
                and record.data.get("non_repairable") is not True
            )
            if record.record_type == PENALTY:
                key = ("grading.penalty", effective.corrected, repaired)
                penalty = record.derived.get(key)
                if penalty is None:
                    penalty = record.derived[key] = _penalty(
                        record, decided_on, corrected=effective.corrected, repaired=repaired
                    )
                self.penalties.append(penalty)
            if record.record_type in DETAIL_FIELDS:
                tier = None
                if severity is not None and record.record_type == PENALTY:
                    tier = str(severity_of(record, severity, listed_documents=listed).severity)
                mark_key = ("grading.mark", tier, repaired)
                mark = record.derived.get(mark_key)
                if mark is None:
                    document = record.data.get("document_no")
                    mark = Mark(
                        record.record_id, record.department, record.record_type, decided_on, _details(record), tier
                    )
                    mark = record.derived[mark_key] = replace(
                        mark, document_no=str(document) if document else None, repaired=repaired
                    )
                self.marks.append(mark)
            elif record.record_type == REGISTRATION:
                self.registrations.append(_registration(record, decided_on))
            elif record.record_type in LIST_SHAPES:
                shape = LIST_SHAPES[record.record_type]
                stage = record.data.get(shape.stage_field)
                if stage in shape.entries:
                    self.entries.append(record)
                elif stage in shape.exits:
                    self.exits.append(record)

    def credit_file(
        self, *, subject_kind: str, as_of: date, repairs: Mapping[tuple[str, str], AcceptedRecord]
    ) -> CreditFile:
        listings = [_listing(entry, self.exits, _repaired_by(repairs, entry, as_of)) for entry in self.entries]
        return CreditFile(
            subject_kind=subject_kind,
            as_of=as_of,
            registrations=tuple(sorted(self.registrations, key=registration_order)),
            penalties=tuple(sorted(self.penalties, key=penalty_order)),
            marks=tuple(sorted(self.marks, key=mark_order)),
            listings=tuple(sorted(listings, key=lambda x: (x.start, x.department, x.record_id))),
        )


def registration_order(r: Registration) -> tuple[date, str]:
    return (r.decided_on, r.record_id)


def penalty_order(p: Penalty) -> tuple[date, str, str]:
    return (p.decided_on, p.department, p.record_id)


def mark_order(m: Mark) -> tuple[date, str, str]:
    return (m.decided_on, m.department, m.record_id)


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


def _penalty(record: AcceptedRecord, decided_on: date, *, corrected: bool, repaired: bool = False) -> Penalty:
    data = record.data
    kinds = frozenset(str(k) for k in data.get("CF_CFLB", []))
    amounts = {name: to_yuan(data[name]) for name in (*AMOUNT_FIELDS, GAINS, PROPERTY) if data.get(name) is not None}
    split = _confiscations(kinds, amounts)
    licence = data.get("CF_NR_ZKDX")
    structured = data.get("licence_actions")
    if isinstance(structured, list):
        # v2: the department's own structured statement; the free text is then not read for grading.
        actions = tuple(
            LicenceAction(_text_or_none(a.get("action")), _text_or_none(a.get("kind")), str(a.get("name") or ""))
            for a in structured
            if isinstance(a, dict)
        )
    else:
        actions = licence_actions_from_text(None if licence is None else str(licence), kinds)
    return Penalty(
        record_id=record.record_id,
        department=record.department,
        decided_on=decided_on,
        kinds=kinds,
        amounts_yuan=amounts,
        licence=None if licence is None else str(licence),
        corrected=corrected,
        licence_actions=actions,
        split_estimated=split,
        repaired=repaired,
    )


def _confiscations(kinds: frozenset[str], amounts: dict[str, Decimal]) -> bool:
    """Fill each named confiscation's own amount from the national total where the record does not give it
    (v1): the only kind named has the whole total; two kinds named share it half and half (True: estimated).
    Amounts are never summed (000 L184-L188), so half the total is what each can be known to reach."""
    named = [CONFISCATION_FIELDS[k] for k in sorted(kinds) if k in CONFISCATION_FIELDS]
    total = amounts.get("CF_NR_WFFF")
    missing = [f for f in named if f not in amounts]
    if total is None or not missing:
        return False
    if len(named) == 1:
        amounts[named[0]] = total
        return False
    if len(missing) == 1:
        # v2-like: one given, the other is the rest of the total.
        given = next(f for f in named if f in amounts)
        amounts[missing[0]] = max(total - amounts[given], Decimal(0))
        return False
    for field in named:
        amounts[field] = total / 2
    return True


def licence_actions_from_text(text: str | None, kinds: frozenset[str]) -> tuple[LicenceAction, ...]:
    """The licences of v1's free text CF_NR_ZKDX, item by item ("暂扣营业执照三个月；吊销食品经营许可证").

    Items are split at ；;。，, and line ends. In an item, the text after a verb (暂扣 / 吊销) up to the next
    verb is what that verb acts on; text before the item's first verb takes that verb ("营业执照被吊销"); an
    item without a verb takes the verb of the record's only licence kind (CF_CFLB naming exactly one of
    暂扣许可证件 / 吊销许可证件), else its action is unknown (None) — never read as a revocation.
    """
    if not text:
        return ()
    only = [LICENCE_VERBS[k] for k in sorted(kinds) if k in LICENCE_VERBS]
    fallback = only[0] if len(only) == 1 else None
    items = [text]
    for separator in _ITEM_SEPARATORS:
        items = [part for item in items for part in item.split(separator)]
    actions: list[LicenceAction] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        positions = sorted((i, verb) for verb in LICENCE_VERBS.values() for i in _find_all(item, verb))
        if not positions:
            actions.append(LicenceAction(fallback, None, item))
            continue
        head = item[: positions[0][0]]
        if head.strip("、和及并 "):
            actions.append(LicenceAction(positions[0][1], None, head))
        for n, (start, verb) in enumerate(positions):
            end = positions[n + 1][0] if n + 1 < len(positions) else len(item)
            actions.append(LicenceAction(verb, None, item[start + len(verb) : end]))
    return tuple(actions)


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _find_all(text: str, word: str) -> list[int]:
    found, start = [], text.find(word)
    while start >= 0:
        found.append(start)
        start = text.find(word, start + 1)
    return found


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
    if record.record_type == RecordTypeName.ABNORMAL_OPERATION_LISTING:
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
    document = entry.data.get("document_no")
    return Listing(
        record_id=entry.record_id,
        department=entry.department,
        record_type=entry.record_type,
        name=str(name),
        start=start,
        end=min(ends) if ends else None,
        serious_social_impact=bool(entry.data.get("causes_serious_social_impact", False)),
        document_no=str(document) if document else None,
    )
