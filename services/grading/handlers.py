"""Message handlers of the grading service, and the time-driven review.

- `record_handler`: one consumed record. Runs inside the consumer's transaction (with the inbox row) and
  never commits: it stores the record, then regrades that one subject as of today.
- `review_handler`: the ticker's `on_tick(today)`. Each subject whose grade may have changed by today
  with no new record (a repair period ended) is regraded in its own transaction, once per change date,
  so every change is published with the day it took effect.

Both regrade under the jurisdiction's rule set, from the subject's whole credit file, so the result never
depends on the order in which records arrived; a redelivered record changes nothing (the records table
ignores it and the recomputed grade equals the stored one, so no event either).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.clock import Clock, today
from services.common.consumer import Handler
from services.common.envelope import CloudEvent
from services.common.outcomes import emit
from services.common.records import AcceptedRecord, store_received_record, subject_records
from services.common.settings import CommonSettings
from services.common.ticker import OnTick
from services.grading import store
from services.grading.grades import change_event, changed, compute, effective_date, stored, subject_of
from services.grading.rules import (
    Jurisdiction,
    RuleSetError,
    RuleSetLookupError,
    RuleSets,
    load_jurisdiction,
    load_rule_sets,
)
from services.grading.rules.loader import JURISDICTION_FILE

SCHEMA = store.SCHEMA
REVIEW_BATCH = 1000
MAX_CHANGES_PER_REVIEW = 50

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

    @property
    def default_rule_set(self) -> str:
        return self.jurisdiction.grading_rule_set


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


def record_handler(ctx: GradingContext) -> Handler:
    async def handle(conn: AsyncConnection, event: CloudEvent) -> None:
        accepted = AcceptedRecord.from_event(event)
        await store_received_record(conn, ctx.schema, accepted)
        day = today(ctx.clock)
        code = accepted.subject_code
        await store.lock_subject(conn, ctx.schema, code)
        current = await store.load_grade(conn, ctx.schema, code, ctx.default_rule_set)
        # Changes that time brought since the last grading first, each on its own date (the ticker may
        # not have run yet), judged with the new record too (as if it had been there from the start).
        current = await catch_up(conn, ctx, code, day, current)
        await regrade(conn, ctx, code, day, current)

    return handle


async def regrade(
    conn: AsyncConnection, ctx: GradingContext, code: str, day: date, previous: store.StoredGrade | None
) -> store.StoredGrade | None:
    """Grade one subject as of `day` under the default rule set, store it, and queue the change event if
    the grade or the supervision level moved (effective on the day the new grade took effect).

    The caller holds the subject's lock (`store.lock_subject`) and has read its stored grade (`previous`).
    Returns the grade now stored (None if the subject could not be graded: nothing changed). Flushes,
    never commits. Raises ValueError for a subject kind no rule knows (the record dead-letters)."""
    records = await subject_records(conn, ctx.schema, code)
    if not records:
        return None
    subject = subject_of(code, records)
    try:
        result = compute(records, subject, ctx.rule_sets, ctx.default_rule_set, day)
    except RuleSetLookupError as exc:
        # The record is kept; the subject is graded once a version is in force (never earlier).
        await store.save_subject(conn, ctx.schema, code=code, kind=subject.kind, name=subject.name)
        log.warning("not graded", extra={"code": code, "reason": str(exc)})
        return None
    new = stored(subject, result, ctx.rule_sets)
    # One statement for the subject's name and its grade; an unchanged grade (the same day, nothing new
    # that counts) is not written again.
    await store.save_subject_and_grade(conn, ctx.schema, name=subject.name, grade=new, grade_changed=new != previous)
    if changed(previous, new):
        effective = effective_date(previous, new, records, subject.kind)
        event = change_event(previous, new, effective=effective, record_count=len(records), time=ctx.clock.now())
        await emit(conn, schema=ctx.schema, topic=ctx.outcomes_topic, events=[event])
    return new


async def review(conn: AsyncConnection, ctx: GradingContext, code: str, day: date) -> None:
    """Apply the time-driven changes of one subject up to `day`, each on its own date (idempotent: a
    second call finds review_on after `day` and does nothing). Flushes, never commits."""
    await store.lock_subject(conn, ctx.schema, code)
    current = await store.load_grade(conn, ctx.schema, code, ctx.default_rule_set)
    await catch_up(conn, ctx, code, day, current)


async def catch_up(
    conn: AsyncConnection, ctx: GradingContext, code: str, day: date, current: store.StoredGrade | None
) -> store.StoredGrade | None:
    """`review` for a caller that holds the subject's lock and has read its stored grade; returns the grade
    stored afterwards. A subject that cannot be regraded (no rule set in force yet) stops the catch-up."""
    for _ in range(MAX_CHANGES_PER_REVIEW):
        if current is None or current.review_on is None or current.review_on > day:
            return current
        regraded = await regrade(conn, ctx, code, current.review_on, current)
        if regraded is None:
            return current
        current = regraded
    return current


def review_handler(ctx: GradingContext, engine: AsyncEngine, after_commit: Callable[[], None]) -> OnTick:
    async def on_tick(day: date) -> None:
        async with engine.connect() as conn:
            codes = await store.due_for_review(
                conn, ctx.schema, rule_set=ctx.default_rule_set, today=day, limit=REVIEW_BATCH
            )
        for code in codes:
            try:
                async with engine.begin() as conn:
                    await review(conn, ctx, code, day)
            except Exception:
                # One subject's failure must not hold back the others; the next tick retries it.
                log.exception("time-driven regrading failed", extra={"code": code})
        if codes:
            after_commit()

    return on_tick
