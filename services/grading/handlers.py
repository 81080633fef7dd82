"""Message handlers of the grading service, and the time-driven review.

- `record_handler`: one consumed record. Runs inside the consumer's transaction (with the inbox row) and
  never commits: it stores the record, then regrades that one subject as of today.
- `review_handler`: the ticker's `on_tick(today)`. Each subject whose grade may have changed by today
  with no new record (a repair period ended) is regraded in its own transaction, once per change date,
  so every change is published with the day it took effect.

Both regrade under the jurisdiction's rule set, from the subject's whole credit file, so the result never
depends on the order in which records arrived; a redelivered record changes nothing (the records table
ignores it and the recomputed grade equals the stored one, so no event either).

The consumer grades a subject of at least `GradingContext.state_min_records` records from its kept state
(`rules.subject_state`, one row of `grading.subject_state` per subject, stamped with the records it was
derived from) extended with the new records, without reading its history, whenever the stamp matches the
table and the extension can take every new record; else from its records, as the review always does, and
writes the state derived from them (docs/decisions.md, issue 18 — grading's per-subject state).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.clock import Clock, today
from services.common.consumer import BatchHandler, Handler
from services.common.envelope import CloudEvent
from services.common.outcomes import emit
from services.common.records import AcceptedRecord, SubjectFiles, store_received_records
from services.common.settings import CommonSettings
from services.common.ticker import OnTick, each_isolated
from services.grading import store
from services.grading.rules import (
    Jurisdiction,
    RuleSetError,
    RuleSetLookupError,
    RuleSets,
    load_jurisdiction,
    load_rule_sets,
)
from services.grading.rules.grades import (
    StoredGrade,
    Subject,
    change_event,
    changed,
    compute,
    effective_date,
    stored,
    subject_of,
)
from services.grading.rules.loader import JURISDICTION_FILE
from services.grading.rules.model import BenxiRules
from services.grading.rules.subject_records import KeptSubjects
from services.grading.rules.subject_state import SubjectState, decode, encode, extended, state_of

SCHEMA = store.SCHEMA
REVIEW_BATCH = 1000
MAX_CHANGES_PER_REVIEW = 50
STATE_MIN_RECORDS = 16
KEPT_RECORDS = 2_000
"""What the files kept parsed and `KeptSubjects` hold, each (records): with the kept states they serve only the
subjects graded from their records at every event (a listing among them) and the review; at 20,000 they
held ~180 MB, mostly of subjects graded from their state since (docs/decisions.md, issue 18 — grading's
per-subject state)."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GradingContext:
    """What handlers, ticker and endpoints share, built once at start-up."""

    rule_sets: RuleSets
    jurisdiction: Jurisdiction
    clock: Clock
    outcomes_topic: str
    audit_topic: str
    schema: str = SCHEMA
    files: SubjectFiles = field(default_factory=lambda: SubjectFiles(max_records=KEPT_RECORDS), compare=False)
    """Subjects' files kept parsed between polls (a heavy subject costs the records added since)."""
    kept: KeptSubjects = field(default_factory=lambda: KeptSubjects(max_records=KEPT_RECORDS), compare=False)
    """What grading derives from a subject's records as a whole, extended at each event, not redone."""
    state_min_records: int | None = STATE_MIN_RECORDS
    """Subjects of at least this many records are graded from their kept state (None: never)."""

    @property
    def default_rule_set(self) -> str:
        return self.jurisdiction.grading_rule_set

    @property
    def keeps_state(self) -> bool:
        """Whether the consumer grades from kept states: the default rule set reads no severity tiers (benxi's
        depend on the whole file, so a benxi jurisdiction grades from the records)."""
        rule_set = self.rule_sets.get(self.default_rule_set)
        return (
            self.state_min_records is not None
            and rule_set is not None
            and not any(isinstance(v.rules, BenxiRules) for v in rule_set.versions)
        )


def load_context(settings: CommonSettings, clock: Clock, *, schema: str = SCHEMA) -> GradingContext:
    """Load the rule sets and the jurisdiction setting; raises RuleSetError naming the file and key."""
    rule_sets = load_rule_sets(settings.schemas_dir)
    path = settings.schemas_dir / JURISDICTION_FILE
    jurisdiction = load_jurisdiction(path, rule_sets)
    if jurisdiction.jurisdiction != settings.jurisdiction:
        raise RuleSetError(
            f"{path}: jurisdiction: describes {jurisdiction.jurisdiction!r}, "
            f"but EXCHANGE_JURISDICTION is {settings.jurisdiction!r}"
        )
    return GradingContext(
        rule_sets=rule_sets,
        jurisdiction=jurisdiction,
        clock=clock,
        outcomes_topic=settings.topic("outcomes.grades"),
        audit_topic=settings.topic("audit.access"),
        schema=schema,
    )


@dataclass(frozen=True, slots=True)
class Regrading:
    """One grading of a subject on one day, before anything is stored: the grade (None when no rule-set
    version is in force that day: not graded) and the change event, if the grade or level moved."""

    subject: Subject
    grade: StoredGrade | None
    event: CloudEvent | None


def regrading(
    ctx: GradingContext, code: str, records: Sequence[AcceptedRecord], day: date, previous: StoredGrade | None
) -> Regrading:
    """Grade one subject as of `day` under the default rule set from its records (pure). Raises ValueError
    for a subject kind no rule knows (the record dead-letters)."""
    subject = subject_of(code, records)
    try:
        result = compute(records, subject, ctx.rule_sets, ctx.default_rule_set, day)
    except RuleSetLookupError as exc:
        # The record is kept; the subject is graded once a version is in force (never earlier).
        log.warning("not graded", extra={"code": code, "reason": str(exc)})
        return Regrading(subject, None, None)
    new = stored(subject, result, ctx.rule_sets)
    event = None
    if changed(previous, new):
        effective = effective_date(previous, new, records, subject.kind)
        event = change_event(previous, new, effective=effective, record_count=len(records), time=ctx.clock.now())
    return Regrading(subject, new, event)


def regradings(
    ctx: GradingContext,
    code: str,
    records: Sequence[AcceptedRecord],
    day: date,
    current: StoredGrade | None,
    *,
    including_today: bool,
) -> list[Regrading]:
    """The changes time brought since the subject's last grading, each on its own date (`review_on`, in
    order; a subject that cannot be graded stops there), then, if `including_today`, the grading as of
    `day` itself. Pure: the caller stores the last grade and emits every event."""
    steps: list[Regrading] = []
    for _ in range(MAX_CHANGES_PER_REVIEW):
        if current is None or current.review_on is None or current.review_on > day:
            break
        step = regrading(ctx, code, records, current.review_on, current)
        steps.append(step)
        if step.grade is None:
            break
        current = step.grade
    if including_today:
        steps.append(regrading(ctx, code, records, day, current))
    return steps


def _last_grade(steps: Sequence[Regrading], stored_before: StoredGrade | None) -> StoredGrade | None:
    return next((s.grade for s in reversed(steps) if s.grade is not None), stored_before)


async def _store(
    conn: AsyncConnection,
    ctx: GradingContext,
    steps: Mapping[str, Sequence[Regrading]],
    heads: Mapping[str, store.StoredHead],
) -> None:
    """Write what each subject's `steps` leave behind: its name and its last grade (if it moved), one
    statement for the names and one for the grades whatever the number of subjects (a statement awaited
    per subject was a round trip each). Whether the grade moved is told from the stored row's other
    columns and its explanation's digest: the explanation itself is never read back. Flushes, never
    commits; the caller emits the steps' events."""
    names: list[tuple[str, str, str]] = []
    grades: list[store.GradeWrite] = []
    for code, done in steps.items():
        if not done:
            continue
        head = heads.get(code)
        before = head.grade if head is not None else None
        last = _last_grade(done, before)
        subject = done[-1].subject
        if last is None or last is before:
            names.append((code, subject.kind, subject.name))
            continue
        write = store.grade_write(subject.name, last)
        if store.unchanged(write, head):
            names.append((code, subject.kind, subject.name))
        else:
            grades.append(write)
    await store.save_subjects(conn, ctx.schema, names)
    await store.save_subjects_and_grades(conn, ctx.schema, grades)


async def _emit(conn: AsyncConnection, ctx: GradingContext, steps: Sequence[Regrading]) -> None:
    events = [s.event for s in steps if s.event is not None]
    if events:
        await emit(conn, schema=ctx.schema, topic=ctx.outcomes_topic, events=events)


def record_handler(ctx: GradingContext) -> Handler:
    """One record at a time (the audit replay; `batch_record_handler` is the live consumer's)."""

    async def handle(conn: AsyncConnection, event: CloudEvent) -> None:
        await handle_batch(conn, [event])

    handle_batch = batch_record_handler(ctx)
    return handle


def batch_record_handler(ctx: GradingContext) -> BatchHandler:
    """A consumed batch of records in one transaction, with the effect of handling them one by one in
    order: each record's subject is graded as of today (after the changes time brought since its last
    grading, each on its own date, judged with the new record too, as if it had been there from the
    start), from the records received before it. A subject's file (or state) is read once per batch and its
    grade written once, whatever number of its records the batch holds; every change event is kept, in
    order. Subjects are graded one after the other (they do not depend on each other), so only one
    subject's state is held at a time: a poll touching hundreds of heavy subjects held them all (issue 18)."""

    async def handle_batch(conn: AsyncConnection, events: Sequence[CloudEvent]) -> None:
        received = [AcceptedRecord.from_event(e) for e in events]
        day = today(ctx.clock)
        codes = sorted({r.subject_code for r in received})
        await store.lock_subjects(conn, ctx.schema, codes)
        stamped, loaded = await _stamped_states(conn, ctx, codes) if ctx.keeps_state else ({}, set())
        read = [code for code in codes if code not in stamped]
        files = await ctx.files.read(conn, ctx.schema, read) if read else {}
        heads = await store.load_heads(conn, ctx.schema, codes, ctx.default_rule_set)
        inserted = await store_received_records(conn, ctx.schema, received)
        positions: dict[str, list[int]] = {}
        for n, record in enumerate(received):
            positions.setdefault(record.subject_code, []).append(n)
        at: list[list[Regrading]] = [[] for _ in received]
        writes: list[tuple[str, int, bytes]] = []
        dropped: list[str] = []
        for code in codes:
            grading = _SubjectGrading(ctx, code, day, heads.get(code), received, positions[code], at)
            kept = stamped.get(code)
            if kept is not None:
                await grading.from_state(conn, kept, inserted)
            else:
                grading.from_records(files.pop(code, []), 0)
            if ctx.keeps_state and grading.graded is not grading.unchanged:
                # Encoded now, so that no subject's state outlives its turn.
                state = grading.state_now()
                if state is not None:
                    writes.append((code, state.record_count, encode(state)))
                elif code in loaded:
                    dropped.append(code)
        in_order = [step for steps in at for step in steps]
        steps = {code: [step for n in positions[code] for step in at[n]] for code in codes}
        await _store(conn, ctx, steps, heads)
        await _emit(conn, ctx, in_order)  # in the order one-by-one handling would have queued them
        if ctx.keeps_state:
            await _keep_states(conn, ctx, writes, dropped, loaded)

    return handle_batch


class _SubjectGrading:
    """One subject's records of a batch graded in order, from its kept state while the state takes them,
    else from its records (`from_records`, also from the middle of the batch on)."""

    def __init__(
        self,
        ctx: GradingContext,
        code: str,
        day: date,
        head: store.StoredHead | None,
        received: Sequence[AcceptedRecord],
        positions: Sequence[int],
        at: list[list[Regrading]],
    ) -> None:
        self.ctx, self.code, self.day = ctx, code, day
        self.current = head.grade if head is not None else None
        self.received, self.positions, self.at = received, positions, at
        self.graded: Sequence[AcceptedRecord] = ()
        self.unchanged: SubjectState | None = None
        """The state as read, while nothing was added to it (not written again)."""

    def _grade(self, n: int, records: Sequence[AcceptedRecord]) -> None:
        new = regradings(self.ctx, self.code, records, self.day, self.current, including_today=True)
        self.at[n] = new
        self.current = _last_grade(new, self.current)
        self.graded = records

    async def from_state(self, conn: AsyncConnection, kept: _Stamped, inserted: set[str]) -> None:
        state = _decoded(kept.state.state)
        if state is not None and state.record_count != kept.state.stamp.records:
            state = None
        self.unchanged = state
        if state is not None and kept.added:
            state = extended(state, kept.added)
        done = 0
        while state is not None and done < len(self.positions):
            n = self.positions[done]
            record = self.received[n]
            if (record.department, record.record_id) not in state.keys:
                state = extended(state, [record])
                if state is None:
                    break
            self._grade(n, state)
            done += 1
        if state is not None:
            return
        # From the first record the state cannot take: the file as it was before it, i.e. the subject's rows
        # now but the records this batch added and has not graded yet.
        self.unchanged = None
        graded_keys = {(r.department, r.record_id) for r in (self.received[n] for n in self.positions[:done])}
        pending = {
            (r.department, r.record_id)
            for r in (self.received[n] for n in self.positions[done:])
            if f"{r.department}/{r.record_id}" in inserted
        } - graded_keys
        rows = (await self.ctx.files.read(conn, self.ctx.schema, [self.code])).get(self.code, [])
        self.from_records([r for r in rows if (r.department, r.record_id) not in pending], done)

    def from_records(self, file: list[AcceptedRecord], start: int) -> None:
        kept = {(r.department, r.record_id) for r in file}
        for n in self.positions[start:]:
            record = self.received[n]
            key = (record.department, record.record_id)
            if key not in kept:  # the first copy is kept (ON CONFLICT DO NOTHING)
                kept.add(key)
                file.append(record)
            self._grade(n, self.ctx.kept.of(self.code, file))

    def state_now(self) -> SubjectState | None:
        """The subject's state after its records of the batch (None: it has none)."""
        graded = self.graded
        if isinstance(graded, SubjectState):
            return graded
        minimum = self.ctx.state_min_records or 0
        return state_of(graded) if len(graded) >= minimum else None


class _Stamped(NamedTuple):
    state: store.KeptState
    added: list[AcceptedRecord]
    """The subject's rows added since the state was written (normally none)."""


async def _stamped_states(
    conn: AsyncConnection, ctx: GradingContext, codes: Sequence[str]
) -> tuple[dict[str, _Stamped], set[str]]:
    """The kept states of `codes` whose stamp, with the rows added since, accounts for exactly the subject's
    rows in the table (else the subject is graded from its records), and the codes with a state row."""
    loaded = await store.load_states(conn, ctx.schema, codes)
    if not loaded:
        return {}, set()
    added, now = await store.records_after(conn, ctx.schema, {code: kept.stamp.seq for code, kept in loaded.items()})
    stamped: dict[str, _Stamped] = {}
    for code, kept in loaded.items():
        new = added.get(code, [])
        expected = store.Stamp(
            kept.stamp.records + len(new),
            max([kept.stamp.seq, *(seq for seq, _, _ in new)]),
            kept.stamp.keys + sum(keys for _, keys, _ in new),
        )
        if now.get(code) == expected:
            stamped[code] = _Stamped(kept, [record for _, _, record in new])
    return stamped, set(loaded)


def _decoded(data: bytes) -> SubjectState | None:
    try:
        return decode(data)
    except (ValueError, KeyError, TypeError, IndexError):
        log.warning("a kept grading state could not be read; graded from the records")
        return None


async def _keep_states(
    conn: AsyncConnection,
    ctx: GradingContext,
    writes: Sequence[tuple[str, int, bytes]],
    dropped: Sequence[str],
    loaded: set[str],
) -> None:
    """Write each encoded state (code, records' count, state) with the stamp of its subject's rows now, and
    delete the rows of `dropped` (subjects graded from their records that have no state now) and of any
    whose count does not match the table's (never expected: the state is then not kept)."""
    now = await store.stamps(conn, ctx.schema, [code for code, _, _ in writes])
    rows = []
    gone = list(dropped)
    for code, count, state in writes:
        stamp = now.get(code)
        if stamp is not None and stamp.records == count:
            rows.append((code, stamp, state))
        elif code in loaded:
            gone.append(code)
    await store.save_states(conn, ctx.schema, rows, gone)


async def review(conn: AsyncConnection, ctx: GradingContext, code: str, day: date) -> None:
    """Apply the time-driven changes of one subject up to `day`, each on its own date (idempotent: a
    second call finds review_on after `day` and does nothing). Flushes, never commits."""
    await store.lock_subject(conn, ctx.schema, code)
    head = (await store.load_heads(conn, ctx.schema, [code], ctx.default_rule_set)).get(code)
    current = head.grade if head is not None else None
    if head is None or current is None or current.review_on is None or current.review_on > day:
        return
    records = (await ctx.files.read(conn, ctx.schema, [code])).get(code, [])
    if records:
        steps = regradings(ctx, code, ctx.kept.of(code, records), day, current, including_today=False)
        await _store(conn, ctx, {code: steps}, {code: head})
        await _emit(conn, ctx, steps)


def review_handler(ctx: GradingContext, engine: AsyncEngine, after_commit: Callable[[], None]) -> OnTick:
    async def on_tick(day: date) -> None:
        async with engine.connect() as conn:
            codes = await store.due_for_review(
                conn, ctx.schema, rule_set=ctx.default_rule_set, today=day, limit=REVIEW_BATCH
            )

        async def one(code: str) -> None:
            async with engine.begin() as conn:
                await review(conn, ctx, code, day)

        await each_isolated(codes, one, what="time-driven regrading")
        if codes:
            after_commit()

    return on_tick
