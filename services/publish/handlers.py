"""Message handling and time-driven changes of the publish service.

:meth:`Publisher.handle_batch` (one path for every poll; a single event is a poll of one) runs inside the
consumer's transaction (with the inbox rows) and never commits: it keeps the records, applies what they say
to objections and repairs, then recomputes the subjects' disclosures (derived state is a pure function of
records + today) and announces only what changed. A subject's whole file is derived again only when needed:
a new record that changes no other record's disclosure is derived alone on what the publisher kept of the
subject's last whole derivation, while the subject's derivation stamp says nobody derived it since
(`store/derivations.py`), so a subject with 300 records costs about what a new one does.
:meth:`Publisher.on_tick` owns one short transaction per subject or objection batch.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
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
from services.publish.rules.derive import (
    Change,
    Derived,
    DisclosureRules,
    Previous,
    SubjectView,
    changes_only_itself,
    derive_added,
    derive_file,
    needs_saving,
    plan_change,
    public_id,
)
from services.publish.withdrawals import Withdrawal, withdrawal_of

VERIFICATION = "objection_verification"
REPAIR_DECISION = "repair_decision"
DISCLOSURES, LISTS = "outcomes.disclosures", "outcomes.lists"
ACTS_ON_OTHERS = frozenset({VERIFICATION, REPAIR_DECISION, *AMENDMENT_TYPES})
"""Record types whose handling reaches beyond their own subject's disclosures (objections, repairs, an
amended record filed under another code)."""

KEPT_SUBJECTS = 50_000
"""Subjects whose last derivation a publisher keeps (a few hundred bytes each), least recently used evicted."""

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Kept:
    """What a whole-file derivation of a subject found, valid while the subject's stored stamp is ``stamp``."""

    stamp: int
    as_of: date
    rules: DisclosureRules
    view: SubjectView


class Publisher:
    def __init__(self, ctx: PublishContext) -> None:
        self.ctx = ctx
        self._calendar_checked: object | None = None
        self._kept: OrderedDict[str, _Kept] = OrderedDict()

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
        await store_received_records(conn, self.ctx.schema, [accepted])
        subjects = {accepted.subject_code}
        target_id = accepted.data.get("target_record_id")
        if accepted.record_type in AMENDMENT_TYPES and isinstance(target_id, str):
            target = await store.find_record(conn, self.ctx.schema, accepted.department, target_id)
            if target is not None:
                subjects.add(target.subject_code)  # an amendment filed under another code still reaches it
        await store.lock_subjects(conn, self.ctx.schema, sorted(subjects))
        if accepted.record_type == VERIFICATION:
            await self._answer(conn, accepted)
        elif accepted.record_type == REPAIR_DECISION:
            await apply_decision(conn, self.ctx, accepted)
        elif accepted.record_type in AMENDMENT_TYPES and isinstance(target_id, str):
            resolved = await store.resolve_upheld(
                conn, self.ctx.schema, accepted.department, target_id, by=accepted.record_id, now=accepted.received_at
            )
            if resolved:
                await store.refresh_objection_flag(conn, self.ctx.schema, accepted.department, target_id)
        now = self.ctx.now()
        for code in sorted(subjects):
            await self.recompute(conn, code, as_of=shanghai_date(now), now=now)

    async def _plain(self, conn: AsyncConnection, records: Sequence[AcceptedRecord]) -> None:
        """A run of plain records. A record whose correction or revocation was consumed before it (filed under
        another code: it joins the subject's file once the record is stored) is an acting one after all."""
        if not records:
            return
        amended = await store.amended_before_arrival(
            conn, self.ctx.schema, [(r.department, r.record_id) for r in records]
        )
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
        """Plain records: their subjects are locked and given a new derivation stamp, each record's
        recomputation done in memory in order (every event kept), each disclosure written once.

        A subject whose last derivation this handler kept (same stamp, as-of day and rules) and whose records
        in the run all change only themselves is not read: each new record's disclosure is derived alone on the
        kept :class:`SubjectView` (`derive_added`), which is what deriving the whole file would give, the
        file's other disclosures staying as stored. Any other subject's records and disclosures are read
        once and its whole file derived for each record."""
        if not records:
            return
        codes = sorted({r.subject_code for r in records})
        await store.lock_subjects(conn, self.ctx.schema, codes)
        stamps = await store.restamp(conn, self.ctx.schema, codes)
        now = self.ctx.now()
        as_of = shanghai_date(now)
        rules = self.ctx.rules
        shared = {r.subject_code for r in records if not changes_only_itself(r)}
        views = {
            code: view
            for code in codes
            if code not in shared and (view := self._kept_view(code, stamps[code][0], as_of, rules)) is not None
        }
        whole = [code for code in codes if code not in views]
        files: dict[str, list[AcceptedRecord]] = {code: [] for code in whole}
        files |= await store.subject_files(conn, self.ctx.schema, whole) if whole else {}
        stored = await store.disclosures_of_subjects(conn, self.ctx.schema, whole) if whole else {}
        new = await store_received_records(conn, self.ctx.schema, records)
        added = [r for r in records if r.subject_code in views and r.event_id in new]
        previous = await store.disclosures_by_id(
            conn, self.ctx.schema, [public_id(r.department, r.record_id) for r in added]
        )
        kept = {code: {(r.department, r.record_id) for r in file} for code, file in files.items()}
        writes: dict[str, tuple[Derived, Change]] = {}
        outcome: list[tuple[str, CloudEvent]] = []
        withdrawn: list[Withdrawal] = []
        for record in records:
            code = record.subject_code
            key = (record.department, record.record_id)
            first = key not in kept.setdefault(code, set())  # the first copy is kept (ON CONFLICT DO NOTHING)
            kept[code].add(key)
            if code in files or code not in views:
                if first:
                    files.setdefault(code, []).append(record)
                derived, views[code] = derive_file(files[code], rules, as_of)
                self._plan(derived, stored[code], now=now, writes=writes, outcome=outcome, withdrawn=withdrawn)
            elif first and record.event_id in new:  # else in the file the kept derivation was made from
                one = derive_added(record, views[code], rules, as_of)
                self._plan([one] if one else [], previous, now=now, writes=writes, outcome=outcome, withdrawn=withdrawn)
        await self._write(conn, writes, outcome, now, withdrawn)
        for code in codes:
            self._keep(code, _Kept(stamps[code][1], as_of, rules, views[code]))

    async def recompute(self, conn: AsyncConnection, subject_code: str, *, as_of: date, now: datetime) -> None:
        """Bring one subject's stored disclosures up to date from its whole file (caller holds the subject lock)."""
        stamps = await store.restamp(conn, self.ctx.schema, [subject_code])
        records = await store.subject_file(conn, self.ctx.schema, subject_code)
        previous = await store.disclosures_for_update(conn, self.ctx.schema, subject_code)
        writes: dict[str, tuple[Derived, Change]] = {}
        outcome: list[tuple[str, CloudEvent]] = []
        withdrawn: list[Withdrawal] = []
        rules = self.ctx.rules
        derived, view = derive_file(records, rules, as_of)
        self._plan(derived, previous, now=now, writes=writes, outcome=outcome, withdrawn=withdrawn)
        await self._write(conn, writes, outcome, now, withdrawn)
        self._keep(subject_code, _Kept(stamps[subject_code][1], as_of, rules, view))

    def _kept_view(self, code: str, stamp: int | None, as_of: date, rules: DisclosureRules) -> SubjectView | None:
        """The kept view of a subject, if the stored disclosures still come from the derivation it was kept
        with (nobody has derived the subject since) on the same day with the same rules."""
        kept = self._kept.get(code)
        if kept is None or stamp is None or kept.stamp != stamp or kept.as_of != as_of:
            return None
        if not (
            kept.rules.catalogue is rules.catalogue
            and kept.rules.rules is rules.rules
            and kept.rules.calendar is rules.calendar
        ):
            return None
        self._kept.move_to_end(code)
        return kept.view

    def _keep(self, code: str, kept: _Kept) -> None:
        self._kept[code] = kept
        self._kept.move_to_end(code)
        while len(self._kept) > KEPT_SUBJECTS:
            self._kept.popitem(last=False)

    def _plan(
        self,
        derived_disclosures: Sequence[Derived],
        previous: dict[str, Previous],
        *,
        now: datetime,
        writes: dict[str, tuple[Derived, Change]],
        outcome: list[tuple[str, CloudEvent]],
        withdrawn: list[Withdrawal],
    ) -> None:
        """Add what must be written for these derived disclosures (the last write of a disclosure wins),
        announced (topic, event), and put on the withdrawal clock; `previous` becomes what will be stored. A
        list record's change of list state (rules/lists.py) is announced on ``outcomes.lists`` too."""
        ctx = self.ctx
        for derived in derived_disclosures:
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
        await store.save_disclosures(conn, self.ctx.schema, list(writes.values()), now)
        await store.save_withdrawals(conn, self.ctx.schema, withdrawn)
        for topic in (DISCLOSURES, LISTS):
            await announce(conn, self.ctx, topic, [event for t, event in outcome if t == topic])

    async def _answer(self, conn: AsyncConnection, verification: AcceptedRecord) -> None:
        """The provider's answer (异议核实结果) closes the verification of its objection."""
        data = verification.data
        case = await store.objection(conn, self.ctx.schema, str(data.get("objection_id")))
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
        await store.lock_subject(conn, self.ctx.schema, case["subject_code"])
        amendments = await store.amendments_of(conn, self.ctx.schema, case["department"], case["record_id"])
        decided = objection_answer(verification, case["filed_at"], amendments)
        answered = await store.answer_objection(
            conn,
            self.ctx.schema,
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
        await store.refresh_objection_flag(conn, self.ctx.schema, case["department"], case["record_id"])
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
            subjects = set(await store.subjects_to_refresh(conn, self.ctx.schema, today))
            if calendar_changed:
                subjects |= {
                    code
                    for code, decided in await store.provisional_disclosures(conn, ctx.schema)
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
                await store.lock_subject(conn, self.ctx.schema, code)
                await self.recompute(conn, code, as_of=today, now=now)

        return not await each_isolated(subjects, one, what="time-driven recomputation")

    async def _settle_withdrawals(self) -> None:
        """Final due dates for provisional withdrawal deadlines the calendar now covers."""
        ctx = self.ctx
        async with ctx.engine.begin() as conn:
            for public_id, amendment_id, decided in await store.provisional_withdrawals(conn, ctx.schema):
                due = ctx.calendar.add_working_days(decided, ctx.settings.service_levels.withdrawal_working_days)
                if not due.provisional:
                    await store.set_withdrawal_due(conn, self.ctx.schema, public_id, amendment_id, due.date)

    async def _objections(self, *, today: date, now: datetime, settle_provisional: bool) -> int:
        """Final due dates for provisional ones the calendar now covers; escalate unanswered ones past due."""
        ctx = self.ctx
        async with ctx.engine.begin() as conn:
            for objection_id, filed_at in (
                await store.provisional_objections(conn, ctx.schema) if settle_provisional else []
            ):
                due = ctx.calendar.add_working_days(
                    shanghai_date(filed_at), ctx.settings.service_levels.objection_verification_working_days
                )
                if not due.provisional:
                    await store.set_objection_due(conn, self.ctx.schema, objection_id, due.date, due.provisional)
            escalated = await store.escalate_overdue(conn, self.ctx.schema, today, now)
            late = [events.objection_escalated(case, due=case["due_date"], now=now) for case in escalated]
            await announce(conn, ctx, "outcomes.objections", late)
        return len(escalated)
