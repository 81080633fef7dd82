"""Message handling and time-driven changes of the publish service.

:meth:`Publisher.handle_batch` (one path for every poll; a single event is a poll of one) runs inside the
consumer's transaction (with the inbox rows) and never commits: it keeps the records, applies what they say
to objections and repairs, then recomputes the subjects' disclosures from each subject's whole file
(derived state is a pure function of records + today) and announces only what changed.
:meth:`Publisher.on_tick` owns one short transaction per subject or objection batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.amendments import AMENDMENT_TYPES
from services.common.clock import shanghai_date
from services.common.envelope import CloudEvent
from services.common.records import AcceptedRecord, store_received_records
from services.common.ticker import each_isolated
from services.publish import events, store
from services.publish.announce import announce
from services.publish.context import PublishContext
from services.publish.repairs import apply_decision, escalate_late
from services.publish.rules import list_events
from services.publish.rules.cases import objection_answer
from services.publish.rules.derive import Change, Derived, Previous, derive_disclosures, needs_saving, plan_change
from services.publish.withdrawals import Withdrawal, withdrawal_of

SCHEMA = store.SCHEMA
VERIFICATION = "objection_verification"
REPAIR_DECISION = "repair_decision"
DISCLOSURES, LISTS = "outcomes.disclosures", "outcomes.lists"
ACTS_ON_OTHERS = frozenset({VERIFICATION, REPAIR_DECISION, *AMENDMENT_TYPES})
"""Record types whose handling reaches beyond their own subject's disclosures (objections, repairs, an
amended record filed under another code)."""

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, ctx: PublishContext) -> None:
        self.ctx = ctx
        self._calendar_checked: object | None = None

    # -- records ------------------------------------------------------------------------------------

    async def handle(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """One event: a poll of one."""
        await self.handle_batch(conn, [event])

    async def handle_batch(self, conn: AsyncConnection, batch: Sequence[CloudEvent]) -> None:
        """A consumed poll, in order, inside the consumer's transaction. Each record is one of two kinds,
        whatever the poll around it: a plain record touches only its own subject's disclosures and is
        recomputed in memory with the other plain records next to it (`_plain`); a record that acts beyond
        that (an objection answer, a repair decision, a correction or revocation) takes a step of its own
        (`_acting`) between them."""
        run: list[AcceptedRecord] = []
        for accepted in [AcceptedRecord.from_event(event) for event in batch]:
            if accepted.record_type in ACTS_ON_OTHERS:
                await self._plain(conn, run)
                run = []
                await self._acting(conn, accepted)
            else:
                run.append(accepted)
        await self._plain(conn, run)

    async def _acting(self, conn: AsyncConnection, accepted: AcceptedRecord) -> None:
        """Keep the record, apply what it says to objections and repairs, recompute the subjects it reaches."""
        await store_received_records(conn, SCHEMA, [accepted])
        subjects = {accepted.subject_code}
        target_id = accepted.data.get("target_record_id")
        if accepted.record_type in AMENDMENT_TYPES and isinstance(target_id, str):
            target = await store.find_record(conn, accepted.department, target_id)
            if target is not None:
                subjects.add(target.subject_code)  # an amendment filed under another code still reaches it
        await store.lock_subjects(conn, sorted(subjects))
        if accepted.record_type == VERIFICATION:
            await self._answer(conn, accepted)
        elif accepted.record_type == REPAIR_DECISION:
            await apply_decision(conn, self.ctx, accepted)
        elif accepted.record_type in AMENDMENT_TYPES and isinstance(target_id, str):
            resolved = await store.resolve_upheld(
                conn, accepted.department, target_id, by=accepted.record_id, now=accepted.received_at
            )
            if resolved:
                await store.refresh_objection_flag(conn, accepted.department, target_id)
        now = self.ctx.now()
        for code in sorted(subjects):
            await self.recompute(conn, code, as_of=shanghai_date(now), now=now)

    async def _plain(self, conn: AsyncConnection, records: Sequence[AcceptedRecord]) -> None:
        """A run of plain records. A record whose correction or revocation was consumed before it (filed under
        another code: it joins the subject's file once the record is stored) is an acting one after all."""
        if not records:
            return
        amended = await store.amended_before_arrival(conn, [(r.department, r.record_id) for r in records])
        run: list[AcceptedRecord] = []
        for record in records:
            if (record.department, record.record_id) in amended:
                await self._in_memory(conn, run)
                run = []
                await self._acting(conn, record)
            else:
                run.append(record)
        await self._in_memory(conn, run)

    async def _in_memory(self, conn: AsyncConnection, records: Sequence[AcceptedRecord]) -> None:
        """Plain records: their subjects are locked, their files and disclosures read once, each record's
        recomputation done in memory in order (every event kept), each disclosure written once."""
        if not records:
            return
        codes = sorted({r.subject_code for r in records})
        await store.lock_subjects(conn, codes)
        files = await store.subject_files(conn, codes)
        stored = await store.disclosures_of_subjects(conn, codes)
        await store_received_records(conn, SCHEMA, records)
        now = self.ctx.now()
        as_of = shanghai_date(now)
        kept = {code: {(r.department, r.record_id) for r in file} for code, file in files.items()}
        writes: dict[str, tuple[Derived, Change]] = {}
        outcome: list[tuple[str, CloudEvent]] = []
        withdrawn: list[Withdrawal] = []
        for record in records:
            code = record.subject_code
            key = (record.department, record.record_id)
            if key not in kept.setdefault(code, set()):  # the first copy is kept (ON CONFLICT DO NOTHING)
                kept[code].add(key)
                files.setdefault(code, []).append(record)
            self._plan(
                files[code], stored[code], as_of=as_of, now=now, writes=writes, outcome=outcome, withdrawn=withdrawn
            )
        await self._write(conn, writes, outcome, now, withdrawn)

    async def recompute(self, conn: AsyncConnection, subject_code: str, *, as_of: date, now: datetime) -> None:
        """Bring one subject's stored disclosures up to date (caller holds the subject lock)."""
        records = await store.subject_file(conn, subject_code)
        previous = await store.disclosures_for_update(conn, subject_code)
        writes: dict[str, tuple[Derived, Change]] = {}
        outcome: list[tuple[str, CloudEvent]] = []
        withdrawn: list[Withdrawal] = []
        self._plan(records, previous, as_of=as_of, now=now, writes=writes, outcome=outcome, withdrawn=withdrawn)
        await self._write(conn, writes, outcome, now, withdrawn)

    def _plan(
        self,
        records: Sequence[AcceptedRecord],
        previous: dict[str, Previous],
        *,
        as_of: date,
        now: datetime,
        writes: dict[str, tuple[Derived, Change]],
        outcome: list[tuple[str, CloudEvent]],
        withdrawn: list[Withdrawal],
    ) -> None:
        """Derive one subject's disclosures and add what must be written (the last write of a disclosure
        wins), announced (topic, event), and put on the withdrawal clock; `previous` becomes what will be
        stored. A list record's change of list state (rules/lists.py) is announced on ``outcomes.lists`` too."""
        ctx = self.ctx
        for derived in derive_disclosures(records, ctx.rules, as_of):
            before = previous.get(derived.public_id)
            change = plan_change(before, derived, now)
            clock = withdrawal_of(
                before,
                derived,
                change,
                now=now,
                calendar=ctx.calendar,
                working_days=ctx.settings.service_levels.withdrawal_working_days,
            )
            if clock is not None:
                withdrawn.append(clock)
            if needs_saving(before, derived, change):
                writes[derived.public_id] = (derived, change)
                previous[derived.public_id] = store.saved(derived, change)
            if change.event is not None:
                event = events.disclosure_event(change.event, derived, version=change.version, now=now)
                outcome.append((DISCLOSURES, event))
            stored_listing = before.content.get("listing") if before is not None else None
            for name in list_events(stored_listing, derived.content.get("listing")):
                outcome.append((LISTS, events.list_event(name, derived, now=now)))

    async def _write(
        self,
        conn: AsyncConnection,
        writes: dict[str, tuple[Derived, Change]],
        outcome: list[tuple[str, CloudEvent]],
        now: datetime,
        withdrawn: Sequence[Withdrawal] = (),
    ) -> None:
        for derived, change in writes.values():
            await store.save_disclosure(conn, derived, change, now)
        await store.save_withdrawals(conn, withdrawn)
        for topic in (DISCLOSURES, LISTS):
            await announce(conn, self.ctx, topic, [event for t, event in outcome if t == topic])

    async def _answer(self, conn: AsyncConnection, verification: AcceptedRecord) -> None:
        """The provider's answer (异议核实结果) closes the verification of its objection."""
        data = verification.data
        case = await store.objection(conn, str(data.get("objection_id")))
        if (
            case is None
            or case["department"] != verification.department
            or case["record_id"] != data.get("target_record_id")
        ):
            log.warning(
                "objection verification names no open objection of this department and record; kept, not applied",
                extra={"record": verification.event_id, "objection_id": data.get("objection_id")},
            )
            return
        await store.lock_subject(conn, case["subject_code"])
        amendments = await store.amendments_of(conn, case["department"], case["record_id"])
        decided = objection_answer(verification, case["filed_at"], amendments)
        answered = await store.answer_objection(
            conn,
            case["id"],
            state=decided.state,
            outcome=data.get("outcome"),
            explanation=data.get("explanation"),
            verification_id=verification.record_id,
            answered_at=verification.received_at,
            resolved_at=decided.resolved_at,
            resolved_by=decided.resolved_by,
        )
        if answered is None:
            log.info("objection already answered; the later answer is kept as a record only", extra={"id": case["id"]})
            return
        await store.refresh_objection_flag(conn, case["department"], case["record_id"])
        answer = events.objection_answered(
            answered,
            outcome=str(data.get("outcome")),
            upheld=decided.upheld,
            verification_record_id=verification.record_id,
            now=verification.received_at,
        )
        await announce(conn, self.ctx, "outcomes.objections", [answer])

    # -- time ---------------------------------------------------------------------------------------

    async def on_tick(self, today: date) -> None:
        """Withdraw at 公示截止期, settle provisional dates the calendar now covers, escalate late answers."""
        ctx, now = self.ctx, self.ctx.now()
        ctx.refresh_calendar()
        calendar_changed = self._calendar_checked is not ctx.calendar
        async with ctx.engine.connect() as conn:
            subjects = set(await store.subjects_to_refresh(conn, today))
            if calendar_changed:
                subjects |= {
                    code
                    for code, decided in await store.provisional_disclosures(conn)
                    if not ctx.calendar.disclosure_deadline(decided).provisional
                }
        refreshed = await self._refresh(sorted(subjects), today=today, now=now)
        if calendar_changed:
            await self._settle_withdrawals()
        escalated = await self._objections(today=today, now=now, settle_provisional=calendar_changed)
        escalated += await escalate_late(ctx, today=today, settle_provisional=calendar_changed)
        if refreshed:
            self._calendar_checked = ctx.calendar
        if subjects or escalated:
            ctx.wake()

    async def _refresh(self, subjects: list[str], *, today: date, now: datetime) -> bool:
        """Recompute each subject in its own transaction; False when any failed (retried at the next tick)."""

        async def one(code: str) -> None:
            async with self.ctx.engine.begin() as conn:
                await store.lock_subject(conn, code)
                await self.recompute(conn, code, as_of=today, now=now)

        return not await each_isolated(subjects, one, what="time-driven recomputation")

    async def _settle_withdrawals(self) -> None:
        """Final due dates for provisional withdrawal deadlines the calendar now covers."""
        ctx = self.ctx
        async with ctx.engine.begin() as conn:
            for public_id, amendment_id, decided in await store.provisional_withdrawals(conn):
                due = ctx.calendar.add_working_days(decided, ctx.settings.service_levels.withdrawal_working_days)
                if not due.provisional:
                    await store.set_withdrawal_due(conn, public_id, amendment_id, due.date)

    async def _objections(self, *, today: date, now: datetime, settle_provisional: bool) -> int:
        """Final due dates for provisional ones the calendar now covers; escalate unanswered ones past due."""
        ctx = self.ctx
        async with ctx.engine.begin() as conn:
            for objection_id, filed_at in await store.provisional_objections(conn) if settle_provisional else []:
                due = ctx.calendar.add_working_days(
                    shanghai_date(filed_at), ctx.settings.service_levels.objection_verification_working_days
                )
                if not due.provisional:
                    await store.set_objection_due(conn, objection_id, due.date, due.provisional)
            escalated = await store.escalate_overdue(conn, today, now)
            late = [events.objection_escalated(case, due=case["due_date"], now=now) for case in escalated]
            await announce(conn, ctx, "outcomes.objections", late)
        return len(escalated)
