"""Message handlers of the sanctions service: a dispatch table by event kind, one path for every poll.

The consumer hands over a whole poll (a single event is a poll of one), inside its transaction with the
inbox rows; nothing here commits. The poll's inputs (records, objections, grades) are added in one
statement per kind; the subjects they concern are locked and read at once (records, objections, grades,
stored cases, instructions, related persons), their cases derived in memory with the pure rules
(rules/derive.py, rules/plan.py), and only the rows that changed are written, one statement per table.
Only the differences are announced (through the outbox). Order of arrival across topics does not matter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.amendments import AMENDMENT_TYPES
from services.common.clock import Clock, shanghai_date
from services.common.envelope import CloudEvent
from services.common.outcomes import emit
from services.common.records import AcceptedRecord, records_of_subjects, subject_records
from services.common.repairs import REPAIR_DECISION
from services.common.severity import SeverityTable
from services.common.ticker import each_isolated
from services.common.vocabulary import EventType
from services.grading.rules import RuleSetLookupError, RuleSets, rule_set_version_for
from services.grading.rules.model import BenxiRules
from services.sanctions.rules import COURT, RED_LIST, SERIOUS, MeasureList
from services.sanctions.rules.clean_record import ADVERSE_RULE_SET
from services.sanctions.rules.derive import (
    FEEDBACK,
    VERIFICATION,
    CaseView,
    GradeChange,
    Objection,
    derive_cases,
)
from services.sanctions.rules.plan import Inputs, Plan, derive_poll, feedback_by_case, plan_subject, with_feedback
from services.sanctions.store import Store
from services.sanctions.store import poll as poll_store
from services.supervision.rules.composite import CompositeTable
from services.supervision.rules.evaluations import Period, composite_periods, evaluation_periods

RECORD_EVENT = "cn.credit.record."
OBJECTION_FILED = EventType.OBJECTION_FILED
GRADE_CHANGED = EventType.GRADE_CHANGED
RELEVANT = frozenset({SERIOUS, COURT, RED_LIST, FEEDBACK, VERIFICATION, REPAIR_DECISION, *AMENDMENT_TYPES})
"""Record types that can open, end or change a case (or its feedback) of a subject without cases."""
FEEDBACK_AND_AMENDMENTS = frozenset({FEEDBACK, *AMENDMENT_TYPES})

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SanctionsContext:
    """What the handlers and the endpoints share, built once at start."""

    engine: AsyncEngine
    store: Store
    measure_list: MeasureList
    clock: Clock
    outcome_topic: str  # settings.topic("outcomes.sanctions")
    audit_topic: str  # settings.topic("audit.access")
    service: str = "sanctions"
    rule_sets: RuleSets | None = None
    """The grading rule sets: ADVERSE_RULE_SET's 不良行为信息 block says what breaks a clean record."""
    wake: Callable[[], None] = lambda: None
    """The outbox relay's wake (ServiceRuntime.wake), called after the ticker committed events."""
    composite: CompositeTable | None = None
    """The county composite evaluation (公共信用综合评价) whose band `evaluation:` measures may name."""
    severity: SeverityTable | None = None
    """The shared severity table the composite evaluation scores penalties with."""

    def today(self) -> date:
        return shanghai_date(self.clock.now())

    def evaluation_periods(self, records: Sequence[AcceptedRecord]) -> list[Period]:
        """The subject's evaluations and composite bands over time (pure; read when a department asks)."""
        periods = evaluation_periods(records)
        if self.composite is not None and self.severity is not None:
            periods += composite_periods(records, self.composite, self.severity)
        return periods

    def adverse_on(self, day: date) -> BenxiRules | None:
        """What counts as an adverse record on `day`, or None (no rule set loaded or in force then)."""
        if self.rule_sets is None:
            return None
        try:
            rules = rule_set_version_for(self.rule_sets, ADVERSE_RULE_SET, day).rules
        except RuleSetLookupError:
            return None
        return rules if isinstance(rules, BenxiRules) else None


class MalformedOutcomeEvent(ValueError):
    """An objection or grade event not in the shape agreed with publish / grading (dead-lettered)."""


def parse_objection(event: CloudEvent) -> tuple[Objection, datetime]:
    """`cn.credit.objection.filed` from publish: {objection_id, department, record_id, subject_code, filed_at}."""
    data = event.data
    try:
        filed_at = datetime.fromisoformat(str(data["filed_at"])) if data.get("filed_at") else event.time
        objection = Objection(
            objection_id=_text(data, "objection_id"),
            subject_code=str(data.get("subject_code") or event.subject),
            department=_text(data, "department"),
            record_id=_text(data, "record_id"),
            filed_on=shanghai_date(filed_at),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedOutcomeEvent(f"objection event {event.id} is not in the agreed shape: {exc!r}") from exc
    return objection, filed_at


def parse_grade(event: CloudEvent) -> GradeChange:
    """`cn.credit.grade.changed` from grading: {code, new_grade, rule_set, effective_date, subject_kind …}."""
    data = event.data
    try:
        grade, kind = data.get("new_grade"), data.get("subject_kind")
        named = data.get("explanation_records") or []
        if not isinstance(named, list):
            raise TypeError(f"explanation_records must be a list, got {named!r}")
        return GradeChange(
            code=_text(data, "code"),
            rule_set=_text(data, "rule_set"),
            grade=None if grade is None else str(grade),
            effective=date.fromisoformat(str(data["effective_date"])),
            subject_kind=None if kind is None else str(kind),
            announced_at=event.time,
            event_id=event.id,
            # Older events do not name them: their cases are suspended only by objections on the grade's
            # own records once grading announces them again.
            rests_on=tuple(sorted({(_text(r, "department"), _text(r, "record_id")) for r in named})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedOutcomeEvent(f"grade event {event.id} is not in the agreed shape: {exc!r}") from exc


def _text(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string, got {value!r}")
    return value


async def subject_cases(
    conn: AsyncConnection,
    ctx: SanctionsContext,
    code: str,
    as_of: date,
    records: Sequence[AcceptedRecord] | None = None,
) -> list[CaseView]:
    """The subject's cases as of `as_of`, from everything stored about it (reads only; `records`: its
    records, when the caller already has them)."""
    schema = ctx.store.s
    return derive_cases(
        records=records if records is not None else await subject_records(conn, schema, code),
        objections=(await poll_store.objections_of(conn, schema, [code])).get(code, []),
        grades=(await poll_store.grades_of(conn, schema, [code])).get(code, []),
        measure_list=ctx.measure_list,
        as_of=as_of,
    )


@dataclass
class Poll:
    """A poll's inputs by kind, each with its position in the poll."""

    records: list[tuple[int, AcceptedRecord]] = field(default_factory=list)
    objections: list[tuple[int, Objection, datetime]] = field(default_factory=list)
    grades: list[tuple[int, GradeChange]] = field(default_factory=list)


def _on_record(poll: Poll, n: int, event: CloudEvent) -> None:
    poll.records.append((n, AcceptedRecord.from_event(event)))


def _on_objection(poll: Poll, n: int, event: CloudEvent) -> None:
    objection, filed_at = parse_objection(event)
    poll.objections.append((n, objection, filed_at))


def _on_grade(poll: Poll, n: int, event: CloudEvent) -> None:
    poll.grades.append((n, parse_grade(event)))


RECORD = "record"
DISPATCH: dict[str, Callable[[Poll, int, CloudEvent], None]] = {
    RECORD: _on_record,
    OBJECTION_FILED: _on_objection,
    GRADE_CHANGED: _on_grade,
}
"""What each kind of event adds to a poll; every other type is ignored (publish emits no withdrawal)."""


def kind_of(event: CloudEvent) -> str:
    return RECORD if event.type.startswith(RECORD_EVENT) else event.type


class SanctionsHandler:
    def __init__(self, ctx: SanctionsContext) -> None:
        self.ctx = ctx
        self.store = ctx.store

    async def handle(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """One event: a poll of one."""
        await self.handle_batch(conn, [event])

    async def handle_batch(self, conn: AsyncConnection, events: Sequence[CloudEvent]) -> None:
        """A consumed poll, in the consumer's transaction. Raises for an event it cannot read (the consumer
        then applies the events alone and dead-letters that one, with the reason)."""
        poll = Poll()
        for n, event in enumerate(events):
            add = DISPATCH.get(kind_of(event))
            if add is None:
                log.debug("event type not used by sanctions", extra={"event_id": event.id, "type": event.type})
                continue
            add(poll, n, event)
        s = self.store.s
        new_records = await poll_store.add_records(conn, s, [r for _, r in poll.records])
        new_objections = await poll_store.add_objections(conn, s, [(o, at) for _, o, at in poll.objections])
        new_grades = await poll_store.add_grades(conn, s, [g for _, g in poll.grades])
        positions: dict[tuple[str, str], int] = {}
        for n, record in poll.records:
            if record.event_id in new_records:
                positions.setdefault(("record", record.event_id), n)  # the first copy is the one kept
        for n, objection, _ in poll.objections:
            if objection.objection_id in new_objections:
                positions.setdefault(("objection", objection.objection_id), n)
        for n, grade in poll.grades:
            if grade.event_id in new_grades:
                positions.setdefault(("grade", grade.event_id), n)
        subjects = {o.subject_code for _, o, _ in poll.objections} | {g.code for _, g in poll.grades}
        subjects |= {r.subject_code for _, r in poll.records if r.record_type in RELEVANT}
        # A record that cannot open or end a case still renames the subject of the cases it has (the name
        # shown on a case is the latest record's); feedback filed under another code by mistake is still
        # its case's feedback.
        plain = sorted({r.subject_code for _, r in poll.records} - subjects)
        answered = sorted({str(r.data.get("case_id")) for _, r in poll.records if r.record_type == FEEDBACK})
        subjects |= await poll_store.case_subjects(conn, s, plain, answered)
        await self.recompute(conn, sorted(subjects), positions)

    async def recompute(
        self, conn: AsyncConnection, codes: Sequence[str], positions: Mapping[tuple[str, str], int] | None = None
    ) -> None:
        """Derive the subjects' cases as of today, write the rows that changed and emit what changed (in
        `conn`'s transaction). `positions`: where the poll's new inputs came in it (rules/plan.py)."""
        if not codes:
            return
        ctx, s = self.ctx, self.store.s
        today, now = ctx.today(), ctx.clock.now()
        positions = positions or {}
        await poll_store.lock_subjects(conn, s, codes)
        files = await records_of_subjects(conn, s, codes)
        objections = await poll_store.objections_of(conn, s, codes)
        grades = await poll_store.grades_of(conn, s, codes)
        derived = {
            code: derive_poll(
                Inputs(files.get(code, []), objections.get(code, []), grades.get(code, []), positions),
                ctx.measure_list,
                today,
            )
            for code in codes
        }
        case_ids = sorted(
            {v.case_id for d in derived.values() for v in d.views} | {c for d in derived.values() for c in d.vanished}
        )
        own = [r for code in codes for r in files.get(code, []) if r.record_type in FEEDBACK_AND_AMENDMENTS]
        feedback = feedback_by_case([*own, *await poll_store.feedback_filed_elsewhere(conn, s, codes, case_ids)])
        stored = await poll_store.stored_rows(conn, s, codes)
        plan = Plan()
        for code in codes:
            d = derived[code]
            plan_subject(
                plan,
                code=code,
                records=files.get(code, []),
                views=with_feedback(d.views, feedback, positions),
                vanished=[
                    with_feedback([view], feedback, positions, before=point)[0]
                    for _, (point, view) in sorted(d.vanished.items())
                ],
                stored=stored[code],
                measure_list=ctx.measure_list,
                today=today,
                now=now,
            )
        await poll_store.write(conn, s, plan)
        if plan.events:
            await emit(conn, schema=s, topic=ctx.outcome_topic, events=plan.events)

    async def on_tick(self, today: date) -> None:
        """Cases whose term ended (listing_period_end passed) are lifted and every department told."""
        async with self.ctx.engine.connect() as conn:
            due = await self.store.subjects_due(conn, today)

        async def one(code: str) -> None:
            async with self.ctx.engine.begin() as conn:
                await self.recompute(conn, [code])

        await each_isolated(due, one, what="sanctions re-evaluation")
        if due:
            self.ctx.wake()
            log.info("cases re-evaluated after their term", extra={"subjects": len(due), "today": today.isoformat()})
