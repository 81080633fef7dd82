"""Message handlers of the supervision service: records and grades in, each subject's obligations,
consequences and proposals re-derived from everything stored about it (order of arrival does not matter)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.calendar import WorkingDayCalendar
from services.common.clock import Clock, shanghai_date
from services.common.envelope import CloudEvent
from services.common.records import AcceptedRecord, store_received_record, subject_records
from services.common.severity import SeverityTable
from services.supervision.rules.derive import Grade, derive
from services.supervision.rules.model import SupervisionRules
from services.supervision.store import Store

RECORD_EVENT = "cn.credit.record."
GRADE_CHANGED = "cn.credit.grade.changed"
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
    service: str = "supervision"

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
        if event.type.startswith(RECORD_EVENT):
            record = AcceptedRecord.from_event(event)
            await store_received_record(conn, self.store.s, record)
            await self.recompute(conn, record.subject_code)
        elif event.type == GRADE_CHANGED:
            code, grade, kind = parse_grade(event)
            await self.store.lock_subject(conn, code)
            await self.store.save_grade(conn, code, grade, kind=kind, event_id=event.id)
            await self.recompute(conn, code)
        else:
            log.debug("event type not used by supervision", extra={"event_id": event.id, "type": event.type})

    async def recompute(self, conn: AsyncConnection, code: str) -> None:
        await self.store.lock_subject(conn, code)
        records = await subject_records(conn, self.store.s, code)
        grades = await self.store.grades_of(conn, code)
        derived = derive(records, grades, self.ctx.rules, self.ctx.severity)
        latest = max(records, key=lambda r: (r.decision_date, r.record_id), default=None)
        name = str(latest.record["subject"].get("name") or "") or None if latest else None
        await self.store.replace_derived(conn, code, derived, name)
