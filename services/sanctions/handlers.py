"""Message handlers of the sanctions service: one function per message kind; each runs inside the
consumer's transaction (with the inbox row) and never commits itself.

Every message ends in `recompute()` of the subjects it concerns: the cases of a subject are derived from
everything stored about it (records, objections, grades) as of today, compared with what was last
announced, and only the differences are emitted. Order of arrival across topics does not matter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.amendments import AMENDMENT_TYPES
from services.common.clock import Clock, shanghai_date
from services.common.envelope import CloudEvent
from services.common.outcomes import emit
from services.common.records import AcceptedRecord, store_received_record, store_received_records, subject_records
from services.common.repairs import REPAIR_DECISION
from services.common.ticker import each_isolated
from services.grading.rules import RuleSetLookupError, RuleSets, rule_set_version_for
from services.grading.rules.model import BenxiRules
from services.sanctions.derive import (
    FEEDBACK,
    VERIFICATION,
    CaseView,
    GradeChange,
    Objection,
    attach_feedback,
    derive_cases,
    subject_name,
)
from services.sanctions.events import changes, orphan_lifted
from services.sanctions.rules import COURT, RED_LIST, SERIOUS, MeasureList
from services.sanctions.rules.clean_record import ADVERSE_RULE_SET
from services.sanctions.store import Store

RECORD_EVENT = "cn.credit.record."
OBJECTION_FILED = "cn.credit.objection.filed"
OBJECTION_WITHDRAWN = "cn.credit.objection.withdrawn"
GRADE_CHANGED = "cn.credit.grade.changed"
NO_MEASURE = "触发依据已不存在或措施清单已无适用措施"
RELEVANT = frozenset({SERIOUS, COURT, RED_LIST, FEEDBACK, VERIFICATION, REPAIR_DECISION, *AMENDMENT_TYPES})

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

    def today(self) -> date:
        return shanghai_date(self.clock.now())

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


def parse_withdrawal(event: CloudEvent) -> tuple[str, date]:
    data = event.data
    try:
        when = data.get("withdrawn_at")
        return _text(data, "objection_id"), shanghai_date(datetime.fromisoformat(str(when)) if when else event.time)
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedOutcomeEvent(f"objection event {event.id} is not in the agreed shape: {exc!r}") from exc


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
    return derive_cases(
        records=records if records is not None else await subject_records(conn, ctx.store.s, code),
        objections=await ctx.store.objections_of(conn, code),
        grades=await ctx.store.grades_of(conn, code),
        measure_list=ctx.measure_list,
        as_of=as_of,
    )


class SanctionsHandler:
    def __init__(self, ctx: SanctionsContext) -> None:
        self.ctx = ctx
        self.store = ctx.store

    async def handle(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """Raises for an event it cannot read (→ `<topic>.dlq` with the reason); unknown types are ignored."""
        if event.type.startswith(RECORD_EVENT):
            await self.on_record(conn, AcceptedRecord.from_event(event))
        elif event.type == OBJECTION_FILED:
            objection, filed_at = parse_objection(event)
            await self.store.add_objection(conn, objection, filed_at=filed_at)
            await self.recompute(conn, objection.subject_code)
        elif event.type == OBJECTION_WITHDRAWN:
            objection_id, on = parse_withdrawal(event)
            code = await self.store.withdraw_objection(conn, objection_id, on)
            if code is None:
                log.info("withdrawal of an objection never filed", extra={"objection_id": objection_id})
            else:
                await self.recompute(conn, code)
        elif event.type == GRADE_CHANGED:
            change = parse_grade(event)
            await self.store.add_grade(conn, change)
            await self.recompute(conn, change.code)
        else:
            log.debug("event type not used by sanctions", extra={"event_id": event.id, "type": event.type})

    async def handle_batch(self, conn: AsyncConnection, events: Sequence[CloudEvent]) -> None:
        """A consumed batch, with the effect of `handle` on each event in order. Most records cannot open
        or end a case (licences, penalties, registrations …); a run of them is stored in one statement,
        and only those about a subject with cases go through `on_record` one by one."""
        run: list[AcceptedRecord] = []
        for event in events:
            if event.type.startswith(RECORD_EVENT):
                record = AcceptedRecord.from_event(event)
                if record.record_type not in RELEVANT:
                    run.append(record)
                    continue
            await self._store_run(conn, run)
            run = []
            await self.handle(conn, event)
        await self._store_run(conn, run)

    async def _store_run(self, conn: AsyncConnection, records: Sequence[AcceptedRecord]) -> None:
        if not records:
            return
        # No record of the run can give a subject its first case, so who has cases cannot change meanwhile;
        # the others' records touch nothing but the records table, whatever their order.
        with_cases = await self.store.subjects_with_cases(conn, sorted({r.subject_code for r in records}))
        await store_received_records(conn, self.store.s, [r for r in records if r.subject_code not in with_cases])
        for record in records:
            if record.subject_code in with_cases:
                await self.on_record(conn, record)

    async def on_record(self, conn: AsyncConnection, record: AcceptedRecord) -> None:
        await store_received_record(conn, self.store.s, record)
        if record.record_type not in RELEVANT:
            # It cannot open or end a case, but it may rename the subject of the cases it has (the name
            # shown on a case is the latest record's): stored cases must not depend on arrival order.
            if await self.store.has_cases(conn, record.subject_code):
                await self.recompute(conn, record.subject_code)
            return
        subjects = {record.subject_code}
        if record.record_type == FEEDBACK:  # filed under another code by mistake: still its case's feedback
            subjects |= await self.store.subjects_of_cases(conn, [str(record.data.get("case_id"))])
        for code in sorted(subjects):
            await self.recompute(conn, code)

    async def recompute(self, conn: AsyncConnection, code: str) -> None:
        """Derive the subject's cases as of today, store them and emit what changed (in `conn`'s transaction)."""
        ctx = self.ctx
        today = ctx.today()
        await self.store.lock_subject(conn, code)
        records = await subject_records(conn, ctx.store.s, code)
        views = await subject_cases(conn, ctx, code, today, records)
        if views:
            views = attach_feedback(views, await self.store.feedback_records(conn, code, [v.case_id for v in views]))
        stored = await self.store.stored_cases(conn, code)
        had_cases = bool(stored)
        now = ctx.clock.now()
        events = []
        for view in views:
            previous = stored.pop(view.case_id, None)
            new = changes(previous, view, at=now)
            lifecycle = [e.id for e in new if e.type != "cn.credit.sanction.instruction"]
            await self.store.save_case(
                conn, view, ctx.measure_list, [*(previous.emitted if previous else ()), *lifecycle]
            )
            events += new
        if stored:  # cases no longer derived keep the subject's current name, whatever the arrival order
            await self.store.rename_cases(conn, code, subject_name(records), list(stored))
        for orphan in stored.values():
            if orphan.state != "lifted":
                # Lifted from its own start: a case whose trigger no longer derives from the log was never in
                # force, and a date taken from when this service noticed would differ in a replay.
                on = orphan.since or today
                event = orphan_lifted(orphan, on=on, reason=NO_MEASURE, at=now)
                await self.store.lift_orphan(conn, orphan.case_id, on, NO_MEASURE, [*orphan.emitted, event.id])
                events.append(event)
        if views or had_cases:  # a subject that never had a case has no related persons to replace
            await self.store.replace_related_persons(conn, code, views)
        if events:
            await emit(conn, schema=ctx.store.s, topic=ctx.outcome_topic, events=events)

    async def on_tick(self, today: date) -> None:
        """Cases whose term ended (listing_period_end passed) are lifted and every department told."""
        async with self.ctx.engine.connect() as conn:
            due = await self.store.subjects_due(conn, today)

        async def one(code: str) -> None:
            async with self.ctx.engine.begin() as conn:
                await self.recompute(conn, code)

        await each_isolated(due, one, what="sanctions re-evaluation")
        if due:
            self.ctx.wake()
            log.info("cases re-evaluated after their term", extra={"subjects": len(due), "today": today.isoformat()})
