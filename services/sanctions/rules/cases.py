"""Joint rewards and sanctions (联合奖惩, DOMAIN §6), pure: 发起 → 响应 → 反馈 (001 L373-L376).

A trigger (serious listing 认定, court 列入, red-list 列入, or a grade / clean record the caller derives)
opens a case when the measure list has a measure for it. The case is suspended while an objection on the
triggering record is verified (000 L113, 001 L380) and lifted on removal, repair (reported as 移出,
"谁认定、谁修复"), expiry, or revocation / correction of that record. A function of (records, measure
list, as-of date) only: a replay rebuilds the same cases with the same ids.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from services.common.amendments import EffectiveRecord, effective_records
from services.common.records import AcceptedRecord
from services.common.repairs import approved_repairs
from services.sanctions.rules.measures import (
    CONDITION_FACTS,
    DERIVED_TRIGGERS,
    GRADE_TRIGGER,
    ConditionValue,
    Measure,
    MeasureList,
    Nature,
)

SERIOUS = "serious_untrustworthy_listing"
COURT = "judgment_defaulter_listing"
RED_LIST = "red_list"
REVOKED = "撤销记录"  # end reason when the provider revokes the triggering record (record_revocation)
NOTICE = "拟列入告知"  # the prior notice of a serious listing, with its objection_deadline (001 L654)
CORRECTED = "更正"  # end reason when a correction makes the record no longer a listing
REPAIRED = "信用修复"  # end reason when the deciding department approves the repair of the triggering record
_ID_LIMIT = 64  # case_id / instruction_id in sanction_feedback v1


class CaseState(StrEnum):
    OPEN = "open"
    SUSPENDED = "suspended"
    LIFTED = "lifted"


@dataclass(frozen=True, slots=True)
class RelatedPerson:
    role: str
    name: str
    id_type: str
    id_number: str


@dataclass(frozen=True, slots=True)
class Trigger:
    kind: str  # a trigger of the measure list: serious_untrustworthy_listing, grade:benxi-2017:C …
    subject_code: str
    subject_kind: str
    department: str | None  # 发起部门; None for triggers the exchange derives (grades)
    record_id: str  # the triggering 认定 / 列入; for derived triggers a key built from the trigger
    since: date
    until: date | None  # last day in force (inclusive); None: open-ended
    facts: tuple[tuple[str, ConditionValue], ...] = ()
    related_persons: tuple[RelatedPerson, ...] = ()
    ended_on: date | None = None
    end_reason: str | None = None  # 移出：<removal reason>, 屏蔽, 撤销, 撤销记录 or 更正
    revoked_on: date | None = None  # record revoked: a wrongful sanction, reputation to restore (000 L113)
    corrected: bool = False
    rests_on: tuple[tuple[str, str], ...] = ()
    """(department, record id) of the other records the trigger rests on: the 拟列入告知 before a 认定, the
    records a grade's explanation names. An objection on any of them suspends the case too."""
    notice_deadline: date | None = None
    """The 拟列入告知's objection_deadline: a 认定 is not executed before it has passed (001 L654)."""

    @property
    def case_id(self) -> str:
        """Deterministic: `case-<department>-<record id>`, or `case-<trigger key>` for derived triggers."""
        return _bounded(f"case-{self.department}-{self.record_id}" if self.department else f"case-{self.record_id}")

    @property
    def lifted_on(self) -> date | None:
        dates = [d for d in (self.ended_on, self.revoked_on) if d is not None]
        return min(dates) if dates else None


class PersonRestriction(NamedTuple):
    id_number: str
    role: str
    measure: Measure


@dataclass(frozen=True, slots=True)
class Case:
    case_id: str
    trigger: Trigger
    measures: tuple[Measure, ...]
    objection_pending: bool = False

    def state(self, as_of: date) -> CaseState:
        return case_state(self.trigger, self.objection_pending, as_of)


@dataclass(frozen=True, slots=True)
class Instruction:
    """What one implementing department is told to do (响应), and reports feedback on (反馈)."""

    instruction_id: str
    case_id: str
    department: str
    subject_code: str
    subject_kind: str
    trigger: str
    measures: tuple[Measure, ...]
    persons: tuple[PersonRestriction, ...]
    since: date
    until: date | None


@dataclass(frozen=True, slots=True)
class _Spec:
    """How one list record type opens and ends a trigger."""

    key: str  # the data field that tells listings of one department apart
    opens: Callable[[Mapping[str, Any]], bool]
    ends: Callable[[Mapping[str, Any]], str | None]  # the end reason, or None
    until: str
    facts: tuple[str, ...]
    notice: Callable[[Mapping[str, Any]], bool] = lambda d: False  # a prior notice of the listing


_SPECS: Mapping[str, _Spec] = {
    SERIOUS: _Spec(
        "list_name",
        lambda d: d.get("stage") == "认定",  # 拟列入告知 is a notice, not a listing (001 L654)
        lambda d: f"移出：{d.get('removal_reason', '其他')}" if d.get("stage") == "移出" else None,
        "listing_period_end",
        ("category", "causes_serious_social_impact"),
        lambda d: d.get("stage") == NOTICE,
    ),
    COURT: _Spec(
        "case_no",
        lambda d: d.get("action") == "列入",
        lambda d: str(d["action"]) if d.get("action") in ("屏蔽", "撤销", "移出") else None,  # 001 L406
        "listing_period_end",
        ("able_but_refusing",),
    ),
    RED_LIST: _Spec(
        "list_name",
        lambda d: d.get("action") == "列入",
        lambda d: "移出" if d.get("action") == "移出" else None,
        "valid_until",
        (),
    ),
}


def trigger_history(records: Iterable[AcceptedRecord]) -> list[Trigger]:
    """Every trigger in one subject's records, ended ones included (with when and why they ended).

    Corrections apply first (the trigger reads the corrected record); a revoked 移出 no longer ends a
    listing; a revoked listing ends on the revocation date. Each 认定 / 列入 is its own trigger; an end
    (移出, 屏蔽, 撤销) ends every open listing of the same department and list (or court case number).
    An approved credit repair (准予修复) of the triggering record ends its trigger on the approval's date
    (谁认定、谁修复, DOMAIN §9).
    """
    records = list(records)
    if len({r.subject_code for r in records}) > 1:
        raise ValueError("trigger_history takes the records of one subject")
    streams: dict[tuple[str, str, str], list[EffectiveRecord]] = defaultdict(list)
    for effective in effective_records(records, keep_revoked=True):
        spec = _SPECS.get(effective.record.record_type)
        if spec is not None:
            key = str(effective.record.data.get(spec.key, ""))
            streams[(effective.record.record_type, effective.record.department, key)].append(effective)
    history: list[Trigger] = []
    for (record_type, _, _), stream in sorted(streams.items()):
        history.extend(_stream_triggers(_SPECS[record_type], record_type, sorted(stream, key=_order)))
    repairs = approved_repairs(records)
    history = [_repaired(t, repairs) for t in history] if repairs else history
    return sorted(history, key=lambda t: (t.since, t.case_id))


def _repaired(trigger: Trigger, repairs: Mapping[tuple[str, str], AcceptedRecord]) -> Trigger:
    if trigger.department is None:
        return trigger
    approval = repairs.get((trigger.department, trigger.record_id))
    on = approval.decision_date if approval is not None else None
    if on is None or on < trigger.since or (trigger.lifted_on is not None and trigger.lifted_on <= on):
        return trigger
    return _end(trigger, on, REPAIRED)


def _stream_triggers(spec: _Spec, record_type: str, stream: list[EffectiveRecord]) -> list[Trigger]:
    done: list[Trigger] = []
    open_: list[Trigger] = []
    notice: AcceptedRecord | None = None
    for effective in stream:
        record, revoked_on = effective.record, effective.amendment.revoked_on
        if spec.opens(record.data):
            opened = _trigger(spec, record_type, record, revoked_on=revoked_on, corrected=effective.corrected)
            open_.append(_noticed(opened, notice) if notice is not None else opened)
        elif (correction := effective.amendment.corrected_by) and spec.opens(effective.original.data):
            ended = _trigger(spec, record_type, effective.original, revoked_on=revoked_on, corrected=True)
            done.append(_end(ended, correction.decision_date, CORRECTED))  # no longer a listing
        elif spec.notice(record.data):
            notice = record if revoked_on is None else notice  # a revoked notice gave no notice
        elif (reason := spec.ends(record.data)) is not None and revoked_on is None:
            done.extend(_end(t, record.decision_date, reason) for t in open_)
            open_ = []
    return done + open_


def _trigger(
    spec: _Spec, record_type: str, record: AcceptedRecord, *, revoked_on: date | None, corrected: bool
) -> Trigger:
    data = record.data
    until = data.get(spec.until)
    return Trigger(
        kind=record_type,
        subject_code=record.subject_code,
        subject_kind=str(record.record["subject"]["kind"]),
        department=record.department,
        record_id=record.record_id,
        since=record.decision_date,
        until=date.fromisoformat(until) if until else None,
        facts=tuple((name, data[name]) for name in spec.facts if name in data),
        related_persons=tuple(RelatedPerson(**person) for person in data.get("related_persons", ())),
        end_reason=REVOKED if revoked_on else None,
        revoked_on=revoked_on,
        corrected=corrected,
    )


def _noticed(trigger: Trigger, notice: AcceptedRecord) -> Trigger:
    """A 认定 rests on the notice before it: an objection to the notice, and the notice's objection period,
    hold its measures back (001 L654: the objection is verified first)."""
    deadline = notice.data.get("objection_deadline")
    return replace(
        trigger,
        rests_on=(*trigger.rests_on, (notice.department, notice.record_id)),
        notice_deadline=date.fromisoformat(str(deadline)) if deadline else None,
    )


def _end(trigger: Trigger, on: date, reason: str) -> Trigger:
    if trigger.revoked_on is not None and trigger.revoked_on <= on:
        return trigger  # revoked first: that is why it ended
    return replace(trigger, ended_on=on, end_reason=reason)


def _order(effective: EffectiveRecord) -> tuple[date, str, int, str]:
    o = effective.original
    return (o.decision_date, o.received_at.isoformat(), int(o.receipt.get("seq", 0)), o.record_id)


def triggers_of(records: Sequence[AcceptedRecord], as_of: date) -> list[Trigger]:
    """The triggers in force on `as_of` for one subject (grade triggers are passed in separately)."""
    return [t for t in trigger_history(records) if t.since <= as_of and lift_reason(t, as_of) is None]


def derived_trigger(
    kind: str,
    *,
    subject_code: str,
    subject_kind: str,
    since: date,
    until: date | None = None,
    rests_on: Iterable[tuple[str, str]] = (),
) -> Trigger:
    """A trigger the exchange derives rather than a department reports: a grade (`grade:benxi-2017:C`)
    or `clean_record_3y`. Its case id depends only on (kind, subject, since)."""
    if not GRADE_TRIGGER.match(kind) and kind not in DERIVED_TRIGGERS:
        raise ValueError(f"not a derived trigger: {kind!r}")
    key = f"{kind}:{subject_code}:{since.isoformat()}"
    return Trigger(kind, subject_code, subject_kind, None, key, since, until, rests_on=tuple(sorted(set(rests_on))))


def case_state(trigger: Trigger, objections_pending: bool, as_of: date) -> CaseState:
    """Lifted once ended, revoked or expired; otherwise suspended while an objection on a record the
    trigger rests on is under verification (联合惩戒措施在信息核实期间暂不执行, 000 L113) or while the
    prior notice's objection period runs (001 L654); otherwise open."""
    if lift_reason(trigger, as_of) is not None:
        return CaseState.LIFTED
    return CaseState.SUSPENDED if objections_pending or in_notice_period(trigger, as_of) else CaseState.OPEN


def in_notice_period(trigger: Trigger, as_of: date) -> bool:
    """The 拟列入告知's objection period still runs on `as_of` (an objection may be filed on the deadline)."""
    return trigger.notice_deadline is not None and as_of <= trigger.notice_deadline


def lift_reason(trigger: Trigger, as_of: date) -> str | None:
    """Why the case is lifted on `as_of` (移出：信用修复, 屏蔽, 撤销记录, 更正, 期满), or None."""
    lifted = trigger.lifted_on
    if lifted is not None and lifted <= as_of:
        return trigger.end_reason
    if trigger.until is not None and as_of > trigger.until:
        return "期满"
    return None


def applicable_measures(
    trigger: Trigger,
    measure_list: MeasureList,
    *,
    subject_kind: str | None = None,
    facts: Mapping[str, ConditionValue] | None = None,
) -> list[Measure]:
    """The listed measures for this trigger, subject kind and facts (defaults: the trigger's own).

    Only measures on the list can ever apply. A condition on a fact the trigger does not carry fails:
    a measure for "有履行能力而拒不履行" (001 L368) never reaches a subject for whom that is not stated.
    """
    kind = subject_kind or trigger.subject_kind
    known: Mapping[str, ConditionValue] = dict(trigger.facts) if facts is None else facts
    unknown = set(known) - set(CONDITION_FACTS)
    if unknown:
        raise ValueError(f"unknown facts {sorted(unknown)}")
    return [
        m
        for m in measure_list.measures
        if trigger.kind in m.triggers
        and kind in m.subject_kinds
        and all(name in known and known[name] == value for name, value in m.conditions)
    ]


def open_case(trigger: Trigger, measure_list: MeasureList, *, objection_pending: bool = False) -> Case | None:
    """The case a trigger opens, or None: a trigger with no applicable measure opens no case."""
    measures = applicable_measures(trigger, measure_list)
    return Case(trigger.case_id, trigger, tuple(measures), objection_pending) if measures else None


def measure_until(measure: Measure, trigger: Trigger) -> date | None:
    """Last day a measure applies in a case: the trigger's own end, or N years (联合惩戒期限, 000 L111)."""
    if measure.term_years is None:
        return trigger.until
    start = trigger.since
    try:
        end = start.replace(year=start.year + measure.term_years)
    except ValueError:  # 29 February
        end = start.replace(year=start.year + measure.term_years, day=28)
    end -= timedelta(days=1)
    return end if trigger.until is None else min(end, trigger.until)


def related_person_restrictions(trigger: Trigger, measures: Iterable[Measure]) -> list[PersonRestriction]:
    """(ID number, role, measure) for every related person a measure reaches by role (001 L371, L437)."""
    measures = list(measures)
    return [
        PersonRestriction(person.id_number, person.role, m)
        for person in trigger.related_persons
        for m in measures
        if person.role in m.related_person_roles
    ]


def instructions_for(case: Case, measures: Sequence[Measure] | None = None) -> list[Instruction]:
    """One instruction per implementing department, for instructed measures only: market, industry and
    social measures are information, never instructed (001 L656)."""
    chosen = case.measures if measures is None else tuple(measures)
    by_department: dict[str, list[Measure]] = defaultdict(list)
    for m in chosen:
        if m.instructed:
            for department in m.implementing_departments:
                by_department[department].append(m)
    persons = related_person_restrictions(case.trigger, chosen)
    t = case.trigger
    return [
        Instruction(
            instruction_id=_bounded(f"{case.case_id}:{department}"),
            case_id=case.case_id,
            department=department,
            subject_code=t.subject_code,
            subject_kind=t.subject_kind,
            trigger=t.kind,
            measures=tuple(ms),
            persons=tuple(p for p in persons if p.measure in ms),
            since=t.since,
            until=t.until,
        )
        for department, ms in sorted(by_department.items())
    ]


def restriction_answer(code: str, matter: str, on: date, cases: Iterable[Case]) -> dict[str, Any]:
    """应查必查 (001 L376): the answer of `GET /v1/subjects/{code}/restrictions` (API.md), exactly shaped.

    `code` may be the subject's or a related person's (a measure reaching that person's role). Only
    prohibit / restrict set `restricted`; strict review and prudential reference are listed without it.
    A suspended case lists nothing and sets `suspended`. Rewards are withheld while any sanction case
    reaching the code is open or suspended (守信激励 is for subjects without 失信 status, 001 L359-L360).
    """
    measures: list[dict[str, Any]] = []
    rewards: list[dict[str, Any]] = []
    restricted = suspended = sanctioned = False
    for case in cases:
        state = case.state(on)
        if case.trigger.since > on or state is CaseState.LIFTED:
            continue
        for m in _reaching(case, code):
            until = measure_until(m, case.trigger)
            if until is not None and on > until:
                continue
            sanctioned = sanctioned or m.nature is Nature.SANCTION
            if matter not in m.matters:
                continue
            if state is CaseState.SUSPENDED:
                suspended = suspended or m.nature is Nature.SANCTION
                continue
            restricted = restricted or m.restricting
            (measures if m.nature is Nature.SANCTION else rewards).append(_item(m, case, until))
    return {
        "code": code,
        "matter": matter,
        "on": on.isoformat(),
        "restricted": restricted,
        "suspended": suspended,
        "measures": sorted(measures, key=_item_order),
        "rewards": [] if sanctioned else sorted(rewards, key=_item_order),
    }


def _reaching(case: Case, code: str) -> list[Measure]:
    if case.trigger.subject_code == code:
        return list(case.measures)
    roles = {p.role for p in case.trigger.related_persons if p.id_number == code}
    return [m for m in case.measures if roles & set(m.related_person_roles)]


def _item(measure: Measure, case: Case, until: date | None) -> dict[str, Any]:
    return {
        "measure_id": measure.id,
        "name": measure.name,
        "kind": str(measure.kind),
        "effect": str(measure.effect),
        "legal_basis": measure.legal_basis.as_dict(),
        "case_id": case.case_id,
        "since": case.trigger.since.isoformat(),
        "until": None if until is None else until.isoformat(),
    }


def _item_order(item: Mapping[str, Any]) -> tuple[str, str, str]:
    return (item["since"], item["case_id"], item["measure_id"])


def _bounded(text: str) -> str:
    """Ids stay within the 64 characters sanction_feedback accepts, deterministically."""
    if len(text) <= _ID_LIMIT:
        return text
    return text[: _ID_LIMIT - 17] + "-" + hashlib.sha256(text.encode()).hexdigest()[:16]
