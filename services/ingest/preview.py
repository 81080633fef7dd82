"""What a record would cause, without storing anything (`POST /v1/records:preview`, issue 17).

Pure: it composes the rules the services themselves run — publish's publicity window and disclosure
deadline, the shared severity table, grading's `compute` under the jurisdiction's rule set, sanctions'
triggers, measures and instructions — on the subject's credit file plus the new record. No rule is
copied here; a change to a service's rules changes the preview with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.common.calendar import WorkingDayCalendar
from services.common.catalogue import Catalogue
from services.common.records import AcceptedRecord
from services.common.severity import listed_document_numbers, severity_of
from services.grading.rules.evaluate import RuleSetLookupError
from services.grading.rules.grades import Subject, compute
from services.grading.rules.model import RuleSets
from services.publish.rules.publicity import PublicityRules, publicity_window
from services.sanctions.rules.cases import (
    applicable_measures,
    derived_trigger,
    instructions_for,
    open_case,
    triggers_of,
)
from services.sanctions.rules.measures import MeasureList

PENALTY = "administrative_penalty"


@dataclass(frozen=True, slots=True)
class PreviewRules:
    catalogue: Catalogue
    publicity: PublicityRules
    calendar: WorkingDayCalendar
    rule_sets: RuleSets
    grading_rule_set: str
    measures: MeasureList


def as_accepted(department: str, record: dict[str, Any], now: datetime) -> AcceptedRecord:
    """The record as the services would receive it (the receipt reduced to what they read)."""
    receipt = {"department": department, "record_id": record["id"], "received_at": now.isoformat(), "seq": 0}
    return AcceptedRecord(
        event_id=f"{department}/{record['id']}",
        department=department,
        record_id=record["id"],
        record_type=record["type"],
        version=int(record["version"]),
        subject_code=record["subject"]["code"],
        decision_date=date.fromisoformat(record["decision_date"]),
        received_at=now,
        record=record,
        receipt=receipt,
    )


def preview(rules: PreviewRules, new: AcceptedRecord, history: Sequence[AcceptedRecord], today: date) -> dict[str, Any]:
    """Disclosure, severity, grade change and the cases it would open, for `new` on top of `history` (the
    subject's records as the services hold them; a record with the same id is replaced, as a resend is)."""
    before = [r for r in history if (r.department, r.record_id) != (new.department, new.record_id)]
    after = [*before, new]
    record_type = rules.catalogue.record_types[new.record_type]
    result: dict[str, Any] = {}
    listed = listed_document_numbers(after)
    if record_type.disclosure:
        window = publicity_window(new, rules.publicity, rules.calendar, listed_documents=listed)
        due = window.disclosure_due or rules.calendar.disclosure_deadline(new.decision_date)
        result["disclosure"] = {
            "publish": window.publish,
            "deadline": due.date.isoformat(),
            "deadline_provisional": due.provisional,
            "rule": "双公示：决定之日起 7 个工作日内公示",
            "rule_set": window.rule_set,
            "rule_set_version": window.rule_set_version,
            "publicity": _period(window.starts, window.minimum_end, window.maximum_end, window.reason),
            "reason": window.reason,
        }
    if new.record_type == PENALTY:
        tier = severity_of(new, rules.publicity.severity, listed_documents=listed)
        result["severity"] = {"level": str(tier.severity), "label": str(tier.severity), "reasons": list(tier.reasons)}
    subject = new.record["subject"]
    who = Subject(code=new.subject_code, kind=str(subject["kind"]), name=str(subject.get("name", "")))
    grade_before = grade_after = None
    try:
        old = compute(before, who, rules.rule_sets, rules.grading_rule_set, today) if before else None
        fresh = compute(after, who, rules.rule_sets, rules.grading_rule_set, today)
        grade_before = old.grade if old else None
        grade_after = fresh.grade
        result["grade"] = {
            "rule_set": fresh.rule_set,
            "rule_set_version": fresh.rule_set_version,
            "before": grade_before or "（无记录）",
            "after": grade_after or "（不分级）",
            "changes": grade_before != grade_after,
            "reason": fresh.reason,
        }
    except (RuleSetLookupError, ValueError) as exc:
        result["grade"] = {"rule_set": rules.grading_rule_set, "error": str(exc)}
    result["sanctions"] = {"cases": _new_cases(rules, before, after, new, grade_before, grade_after, today)}
    return result


def _period(starts: date, minimum: date | None, maximum: date | None, reason: str) -> str:
    text = f"自 {starts.isoformat()} 起公示"
    if maximum is not None:
        text += f"，至 {maximum.isoformat()} 止"
    else:
        text += "，无自动撤下日期"
    if minimum is not None:
        text += f"；最短公示期至 {minimum.isoformat()}（此后可申请信用修复）"
    return f"{text}（{reason}）"


def _new_cases(
    rules: PreviewRules,
    before: Sequence[AcceptedRecord],
    after: Sequence[AcceptedRecord],
    new: AcceptedRecord,
    grade_before: str | None,
    grade_after: str | None,
    today: date,
) -> list[dict[str, Any]]:
    known = {t.case_id for t in triggers_of(before, today)}
    triggers = [t for t in triggers_of(after, today) if t.case_id not in known]
    if grade_after is not None and grade_after != grade_before:
        kind = f"grade:{rules.grading_rule_set}:{grade_after}"
        try:
            grade_trigger = derived_trigger(
                kind, subject_code=new.subject_code, subject_kind=str(new.record["subject"]["kind"]), since=today
            )
        except ValueError:
            grade_trigger = None
        if grade_trigger is not None and applicable_measures(grade_trigger, rules.measures):
            triggers.append(grade_trigger)
    cases = []
    for trigger in triggers:
        case = open_case(trigger, rules.measures)
        if case is None:
            continue
        instructions = instructions_for(case)
        cases.append(
            {
                "case_id": case.case_id,
                "trigger": trigger.kind,
                "nature": case.measures[0].nature.value if case.measures else "",
                "measures": [m.name for m in case.measures],
                "departments": [i.department for i in instructions],
            }
        )
    return cases
