"""The cases of one subject as of a date, pure: a function of its records, the objections filed against
them, its grade history and the measure list (DOMAIN §6, §9). No SQL, no clock: the handler, the ticker
and the restriction check all call this, and a replay into an empty database gets the same answer.

Objections (000 L113, 001 L380): a case is suspended while an objection on its triggering record is
under verification. The provider answers with `objection_verification`: 不属实 resumes the case on the
answer's date; 属实 / 部分属实 keep it suspended until the provider's correction or revocation of the
record arrives (which then lifts the case or changes it and resumes it). A withdrawn objection resumes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from services.common.amendments import AMENDMENT_TYPES, effective_records
from services.common.records import AcceptedRecord
from services.grading.rules.model import BenxiRules
from services.sanctions.rules import (
    Case,
    CaseState,
    Instruction,
    MeasureList,
    Trigger,
    applicable_measures,
    derived_trigger,
    in_notice_period,
    instructions_for,
    measure_until,
    open_case,
    trigger_history,
)
from services.sanctions.rules.clean_record import clean_record_trigger
from services.sanctions.rules.measures import GRADE_TRIGGER, Measure, Nature
from services.supervision.rules.evaluations import Period

FEEDBACK = "sanction_feedback"
VERIFICATION = "objection_verification"
REJECTED = "不属实"
SUSPENDED_REASON = "异议核实中，暂停执行（000 L113）"
NOTICE_PERIOD_REASON = "拟列入告知的异议期至 {deadline}，期满且异议核实前暂不执行（001 L654）"
NOTICE_PASSED_REASON = "拟列入告知的异议期已届满，开始执行"
UPHELD_REASON = "异议属实，待信息提供部门更正或撤销记录"


@dataclass(frozen=True, slots=True)
class Objection:
    objection_id: str
    subject_code: str
    department: str  # the provider of the disputed record, who verifies it
    record_id: str
    filed_on: date
    withdrawn_on: date | None = None


@dataclass(frozen=True, slots=True)
class GradeChange:
    """One `cn.credit.grade.changed` from grading: from `effective` on, the grade is `grade`."""

    code: str
    rule_set: str
    grade: str | None
    effective: date
    subject_kind: str | None  # None when grading did not say: the subject's records tell
    announced_at: datetime  # the event's time: a later announcement overrides an earlier one
    event_id: str
    rests_on: tuple[tuple[str, str], ...] = ()
    """(department, record id) of the records the grade's explanation names (`explanation_records`)."""


@dataclass(frozen=True, slots=True)
class ObjectionStatus:
    objection: Objection
    pending: bool
    resolved_on: date | None
    note: str | None


@dataclass(frozen=True, slots=True)
class InstructionView:
    instruction: Instruction
    feedback: tuple[dict[str, Any], ...] = ()  # the latest feedback per measure, oldest first

    @property
    def unanswered(self) -> tuple[str, ...]:
        answered = {f["measure_id"] for f in self.feedback}
        return tuple(m.id for m in self.instruction.measures if m.id not in answered)

    @property
    def feedback_state(self) -> str:
        if not self.unanswered:
            return "answered"
        return "partial" if len(self.unanswered) < len(self.instruction.measures) else "pending"


@dataclass(frozen=True, slots=True)
class CaseView:
    case: Case
    state: CaseState
    state_since: date
    reason: str | None
    objection_ids: tuple[str, ...]  # objections under verification (suspended) or resolved on state_since
    instructions: tuple[InstructionView, ...]
    subject_name: str | None
    review_on: date | None = None
    """The day this state ends with no new record (the notice's objection period has passed): the ticker."""

    @property
    def case_id(self) -> str:
        return self.case.case_id

    @property
    def nature(self) -> str:
        return str(Nature.REWARD) if all(m.nature is Nature.REWARD for m in self.case.measures) else "sanction"

    @property
    def departments(self) -> tuple[str, ...]:
        return tuple(i.instruction.department for i in self.instructions)


def derive_cases(
    *,
    records: Sequence[AcceptedRecord],
    objections: Iterable[Objection],
    grades: Iterable[GradeChange],
    measure_list: MeasureList,
    as_of: date,
) -> list[CaseView]:
    """Every case of one subject in force or ended by `as_of` (a trigger decided later opens none yet)."""
    objections = list(objections)
    effective = [e.record for e in effective_records(records)]
    names = {(r.department, r.record_id): r.record["subject"].get("name") for r in records}
    latest = max(records, key=_latest_first) if records else None
    latest_name = subject_name(records)
    kind = str(latest.record["subject"]["kind"]) if latest else "legal_person"
    views = []
    for trigger in trigger_history(records) + grade_triggers(grades, subject_kind=kind):
        if trigger.since > as_of:
            continue
        case = open_case(trigger, measure_list)
        if case is None:
            continue  # only measures on the list can ever apply: no measure, no case
        statuses = [objection_status(o, effective, records, as_of) for o in objections if _rests_on(trigger, o)]
        name = names.get((trigger.department or "", trigger.record_id), latest_name)
        views.append(_view(replace(case, objection_pending=any(s.pending for s in statuses)), statuses, name, as_of))
    return views


def _rests_on(trigger: Trigger, objection: Objection) -> bool:
    """The objection disputes a record the case rests on: its own triggering record, the notice before a
    认定, or a record a grade's explanation names (an objection suspends every sanction resting on it)."""
    disputed = (objection.department, objection.record_id)
    own = trigger.department is not None and disputed == (trigger.department, trigger.record_id)
    return own or disputed in trigger.rests_on


def clean_record_case(
    records: Sequence[AcceptedRecord], adverse: BenxiRules, measure_list: MeasureList, as_of: date
) -> Case | None:
    """The reward case of three clean years (001 L360), computed when asked: a function of the subject's
    records and the date only, never stored, so a replay answers the same and no ticker is needed."""
    if not records:
        return None
    kind = str(max(records, key=_latest_first).record["subject"]["kind"])
    trigger = clean_record_trigger(records, adverse, as_of, subject_kind=kind)
    return open_case(trigger, measure_list) if trigger is not None else None


def evaluation_cases(
    records: Sequence[AcceptedRecord],
    objections: Iterable[Objection],
    periods: Iterable[Period],
    measure_list: MeasureList,
    as_of: date,
) -> list[Case]:
    """What the evaluations in force on `as_of` bring (`evaluation:<scale>:<grade>` measures, 002 L159-L175;
    公共信用综合评价, 003 L59): computed when asked, like the clean record, from the subject's records only
    (services/supervision/rules/evaluations.py reads them; supervision's evaluations view reads the same), so
    nothing is stored, replayed or ticked. An objection on the evaluation record suspends what it brings; an
    objection on any of the subject's records suspends the composite evaluation's sanctions (a 差 band rests
    on the adverse records it scores), not its rewards (a disputed adverse record only lowers the score)."""
    if not records:
        return []
    kind = str(max(records, key=_latest_first).record["subject"]["kind"])
    code = records[0].subject_code
    effective = [e.record for e in effective_records(records)]
    objections = list(objections)
    disputed = {
        (o.department, o.record_id) for o in objections if objection_status(o, effective, records, as_of).pending
    }
    cases = []
    for period in periods:
        if not period.in_force(as_of):
            continue
        pending = bool(disputed) if period.composite else (period.department, period.record_id) in disputed
        for trigger_kind in period.triggers():
            streak = "" if trigger_kind == period.trigger else ":" + trigger_kind.rsplit(":", 1)[1]
            key = period.record_id + streak
            trigger = Trigger(trigger_kind, code, kind, period.department, key, period.since, period.until)
            suspended = pending and not (
                period.composite and all(m.nature == Nature.REWARD for m in applicable_measures(trigger, measure_list))
            )
            case = open_case(trigger, measure_list, objection_pending=suspended)
            cases += [case] if case is not None else []
    return cases


def subject_name(records: Sequence[AcceptedRecord]) -> str | None:
    """The name the subject's latest record gives it (ties broken by what the records carry, never by their
    storage order): shown on cases that are not about one record (grades)."""
    latest = max(records, key=_latest_first) if records else None
    name = latest.record["subject"].get("name") if latest else None
    return str(name) if name is not None else None


def _latest_first(r: AcceptedRecord) -> tuple[date, str, str, int, str]:
    return (r.decision_date, r.receipt["received_at"], r.department, int(r.receipt.get("seq", 0)), r.record_id)


def _view(case: Case, statuses: list[ObjectionStatus], name: str | None, as_of: date) -> CaseView:
    state = case.state(as_of)
    trigger = case.trigger
    instructions = tuple(InstructionView(i) for i in instructions_for(case))
    if state is CaseState.LIFTED:
        since, reason = _lifted(trigger, as_of)
        return CaseView(case, state, since, reason, (), instructions, name)
    pending = [s for s in statuses if s.pending]
    noticed = in_notice_period(trigger, as_of)
    if pending or noticed:
        since = max(trigger.since, min(s.objection.filed_on for s in pending)) if pending else trigger.since
        notes = {s.note for s in pending if s.note}
        heads = [SUSPENDED_REASON] if pending else []
        if noticed:
            heads.append(NOTICE_PERIOD_REASON.format(deadline=trigger.notice_deadline))
        reason = "；".join([*heads, *sorted(notes)])
        review = trigger.notice_deadline + timedelta(days=1) if noticed and trigger.notice_deadline else None
        return CaseView(case, state, since, reason, _ids(pending), instructions, name, review)
    resolved = [
        (s.resolved_on, s.note or "", s.objection.objection_id)
        for s in statuses
        if s.resolved_on is not None and s.resolved_on >= trigger.since
    ]
    if trigger.notice_deadline is not None and trigger.notice_deadline >= trigger.since:
        resolved.append((trigger.notice_deadline + timedelta(days=1), NOTICE_PASSED_REASON, ""))
    if not resolved:
        return CaseView(case, state, trigger.since, None, (), instructions, name)
    last = max(day for day, _, _ in resolved)
    on_last = [(note, oid) for day, note, oid in resolved if day == last]
    reason = "；".join(sorted({note for note, _ in on_last}))
    return CaseView(case, state, last, reason, tuple(sorted(o for _, o in on_last if o)), instructions, name)


def _ids(statuses: Iterable[ObjectionStatus]) -> tuple[str, ...]:
    return tuple(sorted(s.objection.objection_id for s in statuses))


def _lifted(trigger: Trigger, as_of: date) -> tuple[date, str]:
    """When and why a lifted case was lifted: the earlier of its end (removal, revocation …) and expiry."""
    options: list[tuple[date, str]] = []
    if trigger.lifted_on is not None and trigger.lifted_on <= as_of:
        options.append((trigger.lifted_on, trigger.end_reason or "解除"))
    if trigger.until is not None and trigger.until < as_of:
        options.append((trigger.until + timedelta(days=1), "期满"))
    return min(options)


def objection_status(
    objection: Objection, effective: Sequence[AcceptedRecord], records: Sequence[AcceptedRecord], as_of: date
) -> ObjectionStatus:
    """Whether `objection` is under verification on `as_of`, and if not, since when it is resolved.

    `effective` are the subject's records with corrections applied (revoked ones dropped): a verification
    answer can itself be corrected. `records` are all of them, amendments included.
    """
    o = objection
    if o.filed_on > as_of:
        return ObjectionStatus(o, False, None, None)
    if o.withdrawn_on is not None and o.withdrawn_on <= as_of:
        return ObjectionStatus(o, False, o.withdrawn_on, "异议已撤回，恢复执行")
    answers = [
        r
        for r in effective
        if r.record_type == VERIFICATION
        and r.department == o.department
        and r.data.get("objection_id") == o.objection_id
        and r.decision_date <= as_of
    ]
    if not answers:
        return ObjectionStatus(o, True, None, None)
    answer = max(answers, key=lambda r: (r.decision_date, r.receipt["received_at"], r.record_id))
    if answer.data.get("outcome") == REJECTED:
        return ObjectionStatus(o, False, answer.decision_date, "异议核实不属实，恢复执行")
    amendments = sorted(
        r.decision_date
        for r in records
        if r.record_type in AMENDMENT_TYPES
        and r.department == o.department
        and r.data.get("target_record_id") == o.record_id
        and o.filed_on <= r.decision_date <= as_of
    )
    if not amendments:
        return ObjectionStatus(o, True, None, UPHELD_REASON)
    return ObjectionStatus(o, False, max(answer.decision_date, amendments[0]), "异议属实，记录已更正")


def grade_triggers(changes: Iterable[GradeChange], *, subject_kind: str = "legal_person") -> list[Trigger]:
    """One derived trigger per period a subject holds a grade under a rule set, ended by the next period.

    A change may reach back (a revoked penalty: grading announces the earlier grade again from its old
    date), so the grade on a day is the one of the latest announcement taking effect on or before it,
    not the latest effective date; the result does not depend on the order the changes arrived in.
    """
    by_rule_set: dict[str, list[GradeChange]] = defaultdict(list)
    for change in changes:
        by_rule_set[change.rule_set].append(change)
    triggers: list[Trigger] = []
    for rule_set, items in sorted(by_rule_set.items()):
        periods: list[tuple[date, GradeChange]] = []
        for day in sorted({c.effective for c in items}):
            current = max((c for c in items if c.effective <= day), key=lambda c: (c.announced_at, c.event_id))
            if not periods or periods[-1][1].grade != current.grade:
                periods.append((day, current))
        for (since, current), following in zip(periods, [*periods[1:], None], strict=True):
            kind = f"grade:{rule_set}:{current.grade}"
            if current.grade is None or not GRADE_TRIGGER.match(kind):
                continue
            until = following[0] if following is not None else None
            rests_on = {
                key
                for c in items
                if c.grade == current.grade and since <= c.effective and (until is None or c.effective < until)
                for key in c.rests_on
            }
            trigger = derived_trigger(
                kind,
                subject_code=current.code,
                subject_kind=current.subject_kind or subject_kind,
                since=since,
                rests_on=rests_on,
            )
            if following is not None:
                grade = following[1].grade
                reason = f"等级调整为 {grade}" if grade else "等级取消"
                trigger = replace(trigger, ended_on=following[0], end_reason=reason)
            triggers.append(trigger)
    return triggers


def attach_feedback(views: Iterable[CaseView], feedback_records: Iterable[AcceptedRecord]) -> list[CaseView]:
    """执行反馈: each instruction with the latest feedback its own department gave per measure.

    Feedback is matched by (case id, reporting department); corrections apply, revoked feedback is dropped.
    Feedback may arrive before its case exists: it is kept as a record and applied when the case appears.
    """
    by_key: dict[tuple[str, str], dict[str, AcceptedRecord]] = defaultdict(dict)
    for effective in effective_records(feedback_records):
        r = effective.record
        if r.record_type != FEEDBACK:
            continue
        latest = by_key[(str(r.data.get("case_id")), r.department)]
        measure_id = str(r.data.get("measure_id"))
        if measure_id not in latest or _order(r) > _order(latest[measure_id]):
            latest[measure_id] = r
    result = []
    for view in views:
        instructions = []
        for iv in view.instructions:
            found = by_key.get((view.case_id, iv.instruction.department), {})
            items = sorted(
                (_feedback_item(r) for r in found.values()), key=lambda f: (f["decision_date"], f["record_id"])
            )
            instructions.append(InstructionView(iv.instruction, tuple(items)))
        result.append(replace(view, instructions=tuple(instructions)))
    return result


def _order(record: AcceptedRecord) -> tuple[date, str, int, str]:
    return (record.decision_date, record.receipt["received_at"], int(record.receipt.get("seq", 0)), record.record_id)


def _feedback_item(record: AcceptedRecord) -> dict[str, Any]:
    data = record.data
    return {
        "measure_id": data.get("measure_id"),
        "action_taken": data.get("action_taken"),
        "matter": data.get("matter"),
        "detail": data.get("detail"),
        "business_ref": data.get("business_ref"),
        "instruction_id": data.get("instruction_id"),
        "record_id": record.record_id,
        "decision_date": record.decision_date.isoformat(),
    }


def measure_item(measure: Measure, trigger: Trigger) -> dict[str, Any]:
    until = measure_until(measure, trigger)
    return {
        "measure_id": measure.id,
        "name": measure.name,
        "nature": str(measure.nature),
        "kind": str(measure.kind),
        "effect": str(measure.effect),
        "category": str(measure.category),
        "legal_basis": measure.legal_basis.as_dict(),
        "matters": list(measure.matters),
        "instructed": measure.instructed,
        "implementing_departments": list(measure.implementing_departments),
        "related_person_roles": list(measure.related_person_roles),
        "since": trigger.since.isoformat(),
        "until": None if until is None else until.isoformat(),
    }
