"""Message handlers of the supervision service: records and grades in, each subject's obligations,
consequences and proposals re-derived from everything stored about it (order of arrival does not matter)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.calendar import WorkingDayCalendar
from services.common.clock import SHANGHAI, Clock, shanghai_date
from services.common.envelope import CloudEvent
from services.common.outcomes import emit, outcome_event
from services.common.records import AcceptedRecord, records_of_subjects, store_received_records
from services.common.severity import SeverityTable
from services.common.ticker import each_isolated
from services.sanctions.rules.measures import MeasureList
from services.supervision.rules.composite import CompositeTable
from services.supervision.rules.derive import Derived, Grade, derive, overdue_alerts
from services.supervision.rules.model import SupervisionRules
from services.supervision.rules.sampling import PART_BYTES
from services.supervision.store import Store

RECORD_EVENT = "cn.credit.record."
GRADE_CHANGED = "cn.credit.grade.changed"
PLAN_DRAWN = "cn.credit.supervision.plan_drawn"
log = logging.getLogger(__name__)


class MalformedGradeEvent(ValueError):
    """A grade event not in the shape grading writes (dead-lettered)."""


@dataclass(frozen=True)
class SupervisionContext:
    engine: AsyncEngine
    store: Store
    rules: SupervisionRules
    clock: Clock
    outcome_topic: str  # settings.topic("outcomes.supervision")
    audit_topic: str  # settings.topic("audit.access")
    calendar: WorkingDayCalendar
    severity: SeverityTable | None = None
    composite: CompositeTable | None = None
    plan_part_bytes: int = PART_BYTES
    measures: MeasureList | None = None
    """The measure list: its `evaluation:` measures are what an evaluation brings."""
    service: str = "supervision"
    wake: Callable[[], None] = lambda: None
    """The outbox relay's wake (ServiceRuntime.wake), called after the ticker committed alerts."""

    def today(self) -> date:
        return shanghai_date(self.clock.now())

    def calendar_add(self, start: date, working_days: int) -> date | None:
        """The last day a result inspected on `start` may be entered (000 L310); None when provisional."""
        if working_days < 1:
            return start
        deadline = self.calendar.add_working_days(start, working_days)
        return None if deadline.provisional else deadline.date


def parse_grade(event: CloudEvent) -> tuple[str, Grade, str | None]:
    data = event.data
    try:
        grade = data.get("new_grade")
        level = data.get("supervision_level")
        return (
            str(data["code"]),
            Grade(
                rule_set=str(data["rule_set"]),
                grade=None if grade is None else str(grade),
                level=None if level is None else str(level),
                since=date.fromisoformat(str(data["effective_date"])),
            ),
            None if data.get("subject_kind") is None else str(data["subject_kind"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedGradeEvent(f"grade event {event.id} is not in the agreed shape: {exc!r}") from exc


class SupervisionHandler:
    def __init__(self, ctx: SupervisionContext) -> None:
        self.ctx = ctx
        self.store = ctx.store

    async def handle(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """One event: a poll of one (what the audit replay applies), so there is a single path."""
        await self.handle_batch(conn, [event])

    async def handle_batch(self, conn: AsyncConnection, batch: Sequence[CloudEvent]) -> None:
        """A consumed poll inside the consumer's transaction: its subjects locked in one order, its records
        kept in one statement, its grades saved in order, then each subject touched derived once (what is
        derived depends on everything stored about the subject, not on the order it arrived in)."""
        records: list[AcceptedRecord] = []
        grades: list[tuple[str, Grade, str | None, str]] = []
        for event in batch:
            if event.type.startswith(RECORD_EVENT):
                records.append(AcceptedRecord.from_event(event))
            elif event.type == GRADE_CHANGED:
                code, grade, kind = parse_grade(event)
                grades.append((code, grade, kind, event.id))
            elif event.type == PLAN_DRAWN:
                # Only the audit replay reads these (the live service wrote them): the plans made through the API.
                await self.store.add_published_plan(conn, event.data)
            else:
                log.debug("event type not used by supervision", extra={"event_id": event.id, "type": event.type})
        touched = sorted({r.subject_code for r in records} | {code for code, *_ in grades})
        await self.store.lock_subjects(conn, touched)
        if records:
            await store_received_records(conn, self.store.s, records)
        await self.store.save_grades(conn, grades)
        await self.recompute_subjects(conn, touched, locked=True)

    async def recompute(self, conn: AsyncConnection, code: str) -> None:
        await self.recompute_subjects(conn, [code])

    async def recompute_subjects(self, conn: AsyncConnection, codes: Sequence[str], *, locked: bool = False) -> None:
        """Derive each subject from everything stored about it and replace its derived rows: the reads and
        the writes are one statement per table for all of them (a poll costs about a dozen statements, not a
        dozen per subject)."""
        if not codes:
            return
        if not locked:
            await self.store.lock_subjects(conn, codes)
        files = await records_of_subjects(conn, self.store.s, codes)
        grades = await self.store.grades_of_subjects(conn, codes)
        results: list[tuple[str, Derived, str | None]] = []
        for code in codes:
            records = files.get(code, [])
            derived = derive(
                records, grades.get(code, []), self.ctx.rules, self.ctx.severity, self.ctx.composite, self.ctx.measures
            )
            latest = max(records, key=lambda r: (r.decision_date, r.record_id), default=None)
            name = str(latest.record["subject"].get("name") or "") or None if latest else None
            results.append((code, derived, name))
        await self.store.replace_derived_of_subjects(conn, results)
        for code, derived, name in results:
            await self.alert(conn, code, name, derived)

    async def alert(self, conn: AsyncConnection, code: str, name: str | None, derived: Derived) -> None:
        """Each 告知承诺 / 容缺受理 item past its due date is announced once on the supervision outcome topic
        to its accepting department. The event's id and time follow from the commitment, not from when this
        service noticed, so a replay announces the same event."""
        alerts = overdue_alerts(derived.obligations, self.ctx.today())
        events = {
            a.alert_id: outcome_event(
                service=self.ctx.service,
                kind="supervision.commitment_overdue",
                subject=code,
                event_id=f"supervision:{a.alert_id}",
                time=datetime.combine(a.due + timedelta(days=1), time(0), SHANGHAI),
                data={
                    "event": "commitment_overdue",
                    "code": code,
                    "subject_name": name,
                    "department": a.department,
                    "due": a.due.isoformat(),
                    "record_id": a.record_id,
                    "basis": a.basis,
                    "fulfilled_late_on": a.done_on.isoformat() if a.done_on else None,
                },
            )
            for a in alerts
        }
        new = await self.store.record_alerts(conn, code, alerts, [events[a.alert_id].id for a in alerts])
        if new:
            await emit(conn, schema=self.store.s, topic=self.ctx.outcome_topic, events=[events[i] for i in sorted(new)])

    async def on_tick(self, today: date) -> None:
        """Commitments whose due date passed since the last tick, with no record arriving: their alerts."""
        async with self.ctx.engine.connect() as conn:
            due = await self.store.subjects_with_unalerted_overdue(conn, today)

        async def one(code: str) -> None:
            async with self.ctx.engine.begin() as conn:
                await self.recompute(conn, code)

        await each_isolated(due, one, what="supervision overdue alerts")
        if due:
            self.ctx.wake()
            log.info("overdue commitments announced", extra={"subjects": len(due), "today": today.isoformat()})
