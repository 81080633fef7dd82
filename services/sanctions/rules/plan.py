"""What one poll changes for each of its subjects, pure: the cases derived from everything known about a
subject (as of the poll's end, and just before each event of the poll that can make a case disappear), the
rows that differ from what is stored, and the events announcing the differences.

Handling a poll at once must leave what handling its events one by one leaves (the audit replay applies
other batches than the live consumer's polls). The derived rows of a case that is still derived at the end
do not depend on the steps; a case that existed only in between does (one by one, it was stored and then
lifted as an orphan), so the cases just before each grade event and each amendment of the poll are derived
too, in memory, and such a case is written as it last was, then lifted. Only grade events (a re-announced
grade moves or removes a period) and amendments (a correction changes the facts a measure depends on) can
make a case disappear; every other event adds a case or changes one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson

from services.common.amendments import AMENDMENT_TYPES
from services.common.envelope import CloudEvent, dumps
from services.common.records import AcceptedRecord
from services.common.vocabulary import EventType
from services.sanctions.events import (
    StoredCase,
    case_summary,
    changes,
    content_hash,
    instruction_content,
    orphan_lifted,
)
from services.sanctions.rules.derive import (
    FEEDBACK,
    CaseView,
    GradeChange,
    Objection,
    attach_feedback,
    derive_cases,
    subject_name,
)
from services.sanctions.rules.measures import MeasureList

NO_MEASURE = "触发依据已不存在或措施清单已无适用措施"
BEFORE_POLL = -1

Row = dict[str, Any]
RelatedKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything stored about one subject after the poll's inputs were added, each new input with its
    position in the poll (what was there before the poll has none)."""

    records: Sequence[AcceptedRecord]
    objections: Sequence[Objection]
    grades: Sequence[GradeChange]
    positions: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """("record", "<department>/<id>"), ("objection", id) or ("grade", event id) → position in the poll."""

    def before(self, position: int) -> Inputs:
        def kept(kind: str, key: str) -> bool:
            return self.positions.get((kind, key), BEFORE_POLL) < position

        return Inputs(
            [r for r in self.records if kept("record", r.event_id)],
            [o for o in self.objections if kept("objection", o.objection_id)],
            [g for g in self.grades if kept("grade", g.event_id)],
        )

    def removal_points(self) -> list[int]:
        """Positions of the poll's events that can make a case disappear."""
        points = {self.positions[("grade", g.event_id)] for g in self.grades if ("grade", g.event_id) in self.positions}
        points |= {
            self.positions[("record", r.event_id)]
            for r in self.records
            if r.record_type in AMENDMENT_TYPES and ("record", r.event_id) in self.positions
        }
        return sorted(points)


@dataclass(frozen=True, slots=True)
class Derived:
    """A subject's cases at the poll's end, and those derived only in between (with the position just
    before which they last existed)."""

    views: list[CaseView]
    vanished: dict[str, tuple[int, CaseView]]


def derive_poll(inputs: Inputs, measure_list: MeasureList, as_of: date) -> Derived:
    def derive(i: Inputs) -> list[CaseView]:
        return derive_cases(
            records=i.records, objections=i.objections, grades=i.grades, measure_list=measure_list, as_of=as_of
        )

    views = derive(inputs)
    final = {v.case_id for v in views}
    vanished: dict[str, tuple[int, CaseView]] = {}
    for point in inputs.removal_points():
        for view in derive(inputs.before(point)):
            if view.case_id not in final:
                vanished[view.case_id] = (point, view)
    return Derived(views, vanished)


@dataclass(frozen=True, slots=True)
class Stored:
    """What the store holds about one subject: its case, instruction and related-person rows."""

    cases: Mapping[str, Row]
    instructions: Mapping[str, Row]
    related: Mapping[RelatedKey, Row]


@dataclass
class Plan:
    """The rows to write (only those that differ from the stored ones) and the events to emit, for a poll."""

    cases: list[Row] = field(default_factory=list)
    instructions: list[Row] = field(default_factory=list)
    dropped_instructions: list[str] = field(default_factory=list)
    related: list[Row] = field(default_factory=list)
    dropped_related: list[RelatedKey] = field(default_factory=list)
    events: list[CloudEvent] = field(default_factory=list)


def feedback_by_case(records: Iterable[AcceptedRecord]) -> dict[str, list[AcceptedRecord]]:
    """Feedback records by the case they answer, each with the amendments of it (`attach_feedback` applies them)."""
    records = list(records)
    amendments: dict[tuple[str, str], list[AcceptedRecord]] = defaultdict(list)
    for r in records:
        if r.record_type in AMENDMENT_TYPES:
            amendments[(r.department, str(r.data.get("target_record_id")))].append(r)
    found: dict[str, list[AcceptedRecord]] = defaultdict(list)
    for r in records:
        if r.record_type == FEEDBACK:
            found[str(r.data.get("case_id"))] += [r, *amendments.get((r.department, r.record_id), ())]
    return found


def with_feedback(
    views: Sequence[CaseView],
    feedback: Mapping[str, Sequence[AcceptedRecord]],
    positions: Mapping[tuple[str, str], int],
    before: int | None = None,
) -> list[CaseView]:
    """`views` with the feedback on each (only the feedback already there `before` a position of the poll)."""
    if not views:
        return []
    chosen = [r for v in views for r in feedback.get(v.case_id, ())]
    if before is not None:
        chosen = [r for r in chosen if positions.get(("record", r.event_id), BEFORE_POLL) < before]
    return attach_feedback(views, chosen)


def plan_subject(
    plan: Plan,
    *,
    code: str,
    records: Sequence[AcceptedRecord],
    views: Sequence[CaseView],
    vanished: Sequence[CaseView],
    stored: Stored,
    measure_list: MeasureList,
    today: date,
    now: datetime,
) -> None:
    """Add to `plan` what brings the subject's stored rows to `views` (and lifts the cases no longer derived)."""
    current: dict[str, Row] = {cid: dict(row) for cid, row in stored.cases.items()}
    instructions: dict[str, Row] = {}
    rewritten: set[str] = set()  # cases whose instructions are replaced
    events: list[CloudEvent] = []
    for view in [*vanished, *views]:
        previous = _stored_case(current.get(view.case_id), stored.instructions)
        new = changes(previous, view, at=now)
        lifecycle = [e.id for e in new if e.type != EventType.SANCTION_INSTRUCTION]
        current[view.case_id] = case_row(view, measure_list, [*(previous.emitted if previous else ()), *lifecycle])
        rewritten.add(view.case_id)
        instructions.update({row["instruction_id"]: row for row in instruction_rows(view)})
        events += new
    derived = {v.case_id for v in views}
    name = subject_name(records)
    for case_id in sorted(set(current) - derived):
        row = current[case_id]
        row["subject_name"] = name  # cases no longer derived keep the subject's current name
        if row["state"] != "lifted":
            # Lifted from its own start: a case whose trigger no longer derives from the log was never in
            # force, and a date taken from when this service noticed would differ in a replay.
            on = row["since"] or today
            orphan = _stored_case(row, {})
            assert orphan is not None
            event = orphan_lifted(orphan, on=on, reason=NO_MEASURE, at=now)
            row |= {"state": "lifted", "state_since": on, "state_reason": NO_MEASURE}
            row["emitted"] = sorted([*row["emitted"], event.id])
            events.append(event)
    plan.cases += [row for cid, row in sorted(current.items()) if stored.cases.get(cid) != row]
    for instruction_id, old in sorted(stored.instructions.items()):
        if old["case_id"] in rewritten and instruction_id not in instructions:
            plan.dropped_instructions.append(instruction_id)
    plan.instructions += [row for iid, row in sorted(instructions.items()) if stored.instructions.get(iid) != row]
    related = related_rows(code, views)
    plan.dropped_related += [key for key in sorted(stored.related) if key not in related]
    plan.related += [row for key, row in sorted(related.items()) if stored.related.get(key) != row]
    plan.events += events


def _stored_case(row: Row | None, instructions: Mapping[str, Row]) -> StoredCase | None:
    if row is None:
        return None
    hashes = {i["department"]: i["content_hash"] for i in instructions.values() if i["case_id"] == row["case_id"]}
    return StoredCase(
        row["case_id"],
        row["state"],
        row["state_since"],
        hashes,
        tuple(row["emitted"]),
        row["subject_code"],
        tuple(row["departments"]),
        row["since"],
    )


def _json(value: Any) -> Any:
    """As a jsonb column gives it back, so a stored row and a derived one compare equal when unchanged."""
    return orjson.loads(dumps(value))


def case_row(view: CaseView, measure_list: MeasureList, emitted: Iterable[str]) -> Row:
    s = case_summary(view)
    t = view.case.trigger
    return {
        "case_id": view.case_id,
        "subject_code": t.subject_code,
        "subject_kind": t.subject_kind,
        "subject_name": view.subject_name,
        "nature": view.nature,
        "trigger_kind": t.kind,
        "trigger_department": t.department,
        "trigger_record_id": t.record_id,
        "since": t.since,
        "until": t.until,
        "state": str(view.state),
        "state_since": view.state_since,
        "state_reason": view.reason,
        "wrongful": s["wrongful"],
        "objection_ids": list(view.objection_ids),
        "departments": list(view.departments),
        "measures": _json(s["measures"]),
        "measure_list_version": measure_list.version,
        "emitted": sorted(emitted),
        "review_on": view.review_on,
    }


def instruction_rows(view: CaseView) -> list[Row]:
    rows = []
    for iv in view.instructions:
        content = instruction_content(view, iv)
        rows.append(
            {
                "instruction_id": iv.instruction.instruction_id,
                "case_id": view.case_id,
                "subject_code": view.case.trigger.subject_code,
                "department": iv.instruction.department,
                "measures": _json(content["measures"]),
                "persons": _json(content["related_persons"]),
                "content_hash": content_hash(content),
                "feedback_state": iv.feedback_state,
                "feedback": _json(list(iv.feedback)),
                "unanswered_measures": list(iv.unanswered),
            }
        )
    return rows


def related_rows(code: str, views: Iterable[CaseView]) -> dict[RelatedKey, Row]:
    """The index from a person's ID number to the cases that reach them (法定代表人 … of a listed subject)."""
    rows: dict[RelatedKey, Row] = {}
    for view in views:
        for person in view.case.trigger.related_persons:
            ids = [m.id for m in view.case.measures if person.role in m.related_person_roles]
            rows[(person.id_number, person.role, view.case_id)] = {
                "person_code": person.id_number,
                "role": person.role,
                "case_id": view.case_id,
                "subject_code": code,
                "name": person.name,
                "id_type": person.id_type,
                "measure_ids": ids,
            }
    return rows
