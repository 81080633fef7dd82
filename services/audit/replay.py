"""`exchange audit replay` (DOMAIN §10): rebuild the derived state of the consuming services from offset 0
of the topics into scratch schemas, with the services' own migrations and live handlers and the clock
fixed at an as-of instant, then compare it with the live state.

- grading consumes the record topics (`record_handler`);
- sanctions consumes the record topics and `outcomes.grades` / `outcomes.objections` (`SanctionsHandler`),
  as the topics carry them (the grades the live grading announced, the objections publish announced);
- publish consumes the record topics and the cases filed on its portal (`outcomes.objections` /
  `outcomes.repairs` *filed* events, seeded first; services/publish/replay.py), then runs the as-of tick;
- supervision consumes the record topics and `outcomes.grades`, and its plans come back from their
  published `plan_drawn` events on `outcomes.supervision`.

Events are applied in batches, each event in a savepoint of its own; an event a handler refuses is
counted (the live service dead-letters it) and the replay carries on. Repeated event ids (a relay
re-sending) are applied once, as the inbox of the live consumer does.

Every service is rebuilt into a scratch schema beside the live one (each store takes its schema), with its
own migrations; which tables and columns are compared is the manifests' (services/audit/replay_compare.py),
so no SQL here names a service's tables.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.audit.replay_compare import TABLES, TableComparison, compare, read_table
from services.audit.topic_reader import read_all
from services.common.catalogue import Catalogue, load_catalogue
from services.common.clock import SHANGHAI, FixedClock
from services.common.db import create_engine
from services.common.envelope import CloudEvent, EnvelopeError
from services.common.kafka import KafkaAuth
from services.common.manifest import Manifest, ReplaySeed
from services.common.migrations import alembic_config
from services.common.settings import CommonSettings
from services.manifests import MANIFESTS as ALL_MANIFESTS

# The services the audit replay rebuilds (the others declare ReplaySeed.NONE in their manifests).
MANIFESTS = tuple(m for m in ALL_MANIFESTS if m.replay is not ReplaySeed.NONE)

Handle = Callable[[AsyncConnection, Sequence[CloudEvent]], Awaitable[None]]
"""Applies events in order in the caller's transaction: a batch, as the live consumer hands a poll over."""


EventHandle = Callable[[AsyncConnection, CloudEvent], Awaitable[None]]


def one_by_one(handle: EventHandle) -> Handle:
    async def each(conn: AsyncConnection, events: Sequence[CloudEvent]) -> None:
        for event in events:
            await handle(conn, event)

    return each


def _as_read(events: Sequence[CloudEvent]) -> list[CloudEvent]:
    return list(events)


async def _nothing_after(as_of: datetime) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Rebuild:
    """How one service is rebuilt: its handler, the order it takes the events read for it in, and what runs
    once after the last event (publish's as-of tick)."""

    handle: Handle
    order: Callable[[Sequence[CloudEvent]], list[CloudEvent]] = _as_read
    finish: Callable[[datetime], Awaitable[None]] = _nothing_after


@dataclass
class ReplayReport:
    as_of: datetime
    scratch: dict[str, str]  # service → scratch schema
    read: int = 0
    undecodable: int = 0
    applied: dict[str, int] = field(default_factory=dict)
    refused: dict[str, list[str]] = field(default_factory=dict)  # service → "event id: reason"
    read_seconds: float = 0.0
    apply_seconds: float = 0.0
    tables: list[TableComparison] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return all(t.identical for t in self.tables)

    def lines(self) -> list[str]:
        out = [f"replay as of {self.as_of.isoformat()} into scratch schemas {', '.join(self.scratch.values())}"]
        for table in self.tables:
            out += table.lines()
        for service, refused in sorted(self.refused.items()):
            out.append(
                f"{service}: {len(refused)} event(s) refused by the handler (the live service dead-letters them)"
            )
            out += [f"  {r}" for r in refused]
        verdict = "identical" if self.identical else "DIFFERENCES FOUND"
        out.append(f"{verdict}: {sum(t.live_rows for t in self.tables)} live rows in {len(self.tables)} tables")
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "identical": self.identical,
            "as_of": self.as_of.isoformat(),
            "scratch": self.scratch,
            "read": self.read,
            "undecodable": self.undecodable,
            "applied": self.applied,
            "refused": self.refused,
            "tables": [t.as_dict() for t in self.tables],
        }

    def throughput(self) -> str:
        applied, read_rate = sum(self.applied.values()), self.read / max(self.read_seconds, 1e-6)
        return (
            f"read {self.read} messages in {self.read_seconds:.1f}s ({read_rate:.0f}/s); "
            f"applied {applied} events in {self.apply_seconds:.1f}s ({applied / max(self.apply_seconds, 1e-6):.0f}/s)"
        )


def _migrate(service: str, schema: str, database_url: str) -> None:
    """The service's own migrations, into `schema` (blocking: Alembic runs its own loop)."""
    config = alembic_config(service, database_url)
    config.attributes["schema"] = schema
    command.upgrade(config, "head")


def _rebuilds(
    settings: CommonSettings, catalogue: Catalogue, engine: AsyncEngine, clock: FixedClock, scratch: dict[str, str]
) -> dict[str, Rebuild]:
    from services.grading.handlers import load_context, record_handler
    from services.publish.replay import PublishReplay
    from services.sanctions.handlers import SanctionsContext, SanctionsHandler
    from services.sanctions.rules import load_measure_list
    from services.sanctions.rules.measures import MEASURES_FILE
    from services.sanctions.store import Store

    sanctions = SanctionsContext(
        engine=engine,
        store=Store(scratch.get("sanctions", "sanctions")),
        measure_list=load_measure_list(settings.schemas_dir / MEASURES_FILE, departments=catalogue.departments),
        clock=clock,
        outcome_topic=settings.topic("outcomes.sanctions"),
        audit_topic=settings.topic("audit.access"),
    )

    def publish() -> Rebuild:
        rebuild = PublishReplay(settings, catalogue=catalogue, engine=engine, clock=clock, schema=scratch["publish"])
        return Rebuild(rebuild.handle_batch, order=rebuild.order, finish=rebuild.finish)

    rebuilds: dict[str, Callable[[], Rebuild]] = {
        "grading": lambda: Rebuild(
            one_by_one(record_handler(load_context(settings, clock, schema=scratch["grading"])))
        ),
        # sanctions has one path, batch-native, as its live consumer runs it
        "sanctions": lambda: Rebuild(SanctionsHandler(sanctions).handle_batch),
        "publish": publish,
        # supervision too: a poll at once is its only path (its handle is a poll of one)
        "supervision": lambda: Rebuild(
            _supervision_handler(settings, catalogue, engine, clock, scratch["supervision"])
        ),
    }
    return {service: build() for service, build in rebuilds.items() if service in scratch}


def _supervision_handler(
    settings: CommonSettings, catalogue: Catalogue, engine: AsyncEngine, clock: FixedClock, schema: str
) -> Handle:
    """Supervision's batch handler as its app builds it (services/supervision/app.py), on the scratch schema."""
    from services.common.calendar import WorkingDayCalendar
    from services.supervision.handlers import SupervisionContext, SupervisionHandler
    from services.supervision.rules import model
    from services.supervision.store import Store

    rules = model.load(settings.schemas_dir, departments=set(catalogue.departments))
    ctx = SupervisionContext(
        engine=engine,
        store=Store(schema),
        rules=rules,
        clock=clock,
        outcome_topic=settings.topic("outcomes.supervision"),
        audit_topic=settings.topic("audit.access"),
        calendar=WorkingDayCalendar.load(settings.schemas_dir / "calendar" / "overrides.yaml"),
        severity=model.load_severity(settings.schemas_dir, rules),
        composite=model.load_composite_table(settings.schemas_dir, rules),
        measures=model.load_measures(settings.schemas_dir, set(catalogue.departments), rules),
    )
    return SupervisionHandler(ctx).handle_batch


async def _read(
    settings: CommonSettings,
    catalogue: Catalogue,
    report: ReplayReport,
    out: TextIO,
    manifests: tuple[Manifest, ...] = MANIFESTS,
) -> dict[str, list[CloudEvent]]:
    """Each service's events, in topic order, each event id once."""
    records = tuple(name for name, topic in sorted(catalogue.topics.items()) if topic.kind == "record")
    # Each service's topics as its manifest declares them (publish's include its seeds).
    consumed = {m.name: {settings.topic(name) for name in m.replayed(records)} for m in manifests}
    # Record topics first, then the outcome topics, in the order the manifests name them.
    read = list(
        dict.fromkeys(
            [settings.topic(name) for name in records]
            + [t for m in manifests for t in [settings.topic(n) for n in m.replayed(records)]]
        )
    )
    events: dict[str, list[CloudEvent]] = {service: [] for service in consumed}
    seen: set[str] = set()
    started = time.monotonic()
    async for m in read_all(settings.kafka_bootstrap, read, auth=KafkaAuth.from_settings(settings)):
        report.read += 1
        if report.read % 50_000 == 0:
            print(f"  read {report.read} messages …", file=out, flush=True)
        try:
            event = CloudEvent.from_kafka(list(m.headers), m.value or b"")
        except (EnvelopeError, UnicodeDecodeError):
            report.undecodable += 1
            continue
        if event.id in seen:
            continue
        seen.add(event.id)
        for service, topics in consumed.items():
            if m.topic in topics:
                events[service].append(event)
    report.read_seconds = time.monotonic() - started
    return events


async def _apply(
    engine: AsyncEngine,
    handlers: dict[str, Handle],
    events: dict[str, list[CloudEvent]],
    report: ReplayReport,
    *,
    batch_size: int,
    progress_every: int,
    out: TextIO,
) -> None:
    """Each service's events in order, `batch_size` per transaction, the services side by side (their
    rebuilt state is independent: each reads the topics, not another rebuild).

    A batch is first applied in one go; if a handler refuses an event, the batch is rolled back and applied
    again with each event in a savepoint of its own (as the live consumer does), so the refused event is
    rolled back alone and reported. Savepoints cost two round trips per event: paid only where needed."""
    total = sum(len(events[s]) for s in handlers)
    progress = {"done": 0}
    started = time.monotonic()

    def advance() -> None:
        progress["done"] += 1
        if progress["done"] % progress_every == 0:
            rate = progress["done"] / max(time.monotonic() - started, 1e-6)
            print(f"  applied {progress['done']}/{total} events ({rate:.0f}/s) …", file=out, flush=True)

    async def one_service(service: str, handle: Handle) -> None:
        report.applied[service] = 0
        todo = events[service]
        for first in range(0, len(todo), batch_size):
            batch = todo[first : first + batch_size]
            try:
                async with engine.begin() as conn:
                    await handle(conn, batch)
            except Exception:  # some event of the batch is refused: find it, keep the others
                async with engine.begin() as conn:
                    for event in batch:
                        try:
                            async with conn.begin_nested():
                                await handle(conn, [event])
                        except Exception as exc:  # the live consumer dead-letters such an event
                            report.refused.setdefault(service, []).append(f"{event.id}: {exc!r}"[:300])
                            report.applied[service] -= 1
                report.applied[service] += len(batch)
                for _ in batch:
                    advance()
                continue
            report.applied[service] += len(batch)
            for _ in batch:
                advance()

    await asyncio.gather(*(one_service(service, handle) for service, handle in handlers.items()))
    report.apply_seconds = time.monotonic() - started


async def _compare(
    engine: AsyncEngine,
    scratch_engine: AsyncEngine,
    scratch: dict[str, str],
    subjects: Collection[str] | None,
) -> list[TableComparison]:
    """The live side is read in one repeatable-read snapshot, so a live service writing meanwhile is seen
    once."""
    from services.sanctions.settings import SanctionsSettings

    live = {m.name: m.schema for m in MANIFESTS}
    live["sanctions"] = SanctionsSettings().db_schema  # the live instance's, if configured otherwise
    found = []
    async with engine.connect() as plain, scratch_engine.connect() as scratch_conn:
        conn = await plain.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            for spec in (t for t in TABLES if t.service in scratch):
                live_rows = await read_table(conn, live[spec.service], spec, subjects)
                rebuilt_rows = await read_table(scratch_conn, scratch[spec.service], spec, subjects)
                found.append(compare(spec, live_rows, rebuilt_rows))
    return found


async def replay(
    settings: CommonSettings,
    *,
    as_of: datetime | None = None,
    keep: bool = False,
    subjects: Collection[str] | None = None,
    batch_size: int = 200,
    progress_every: int = 1000,
    out: TextIO = sys.stderr,
    scratch_database: str | None = None,
    services: Collection[str] | None = None,
) -> ReplayReport:
    """Rebuild, compare, and drop the scratch schemas (unless `keep`). `subjects` limits the comparison to
    those subject codes (every event is still applied). Progress and throughput go to `out`.

    With `scratch_database` (the auditor's own PostgreSQL, `--scratch-url`) everything is rebuilt there and
    DATABASE_URL is only read: an auditor needs no write access to production. `services` limits the
    rebuild and the comparison to those services (default: every one the manifests let the replay rebuild)."""
    instant = as_of or datetime.now(SHANGHAI)
    if instant.tzinfo is None:  # a naive --as-of is read in Asia/Shanghai, where every date is decided
        instant = instant.replace(tzinfo=SHANGHAI)
    prefix = f"replay_{uuid.uuid4().hex[:8]}"
    chosen = tuple(m for m in MANIFESTS if services is None or m.name in services)
    scratch = {m.name: f"{prefix}_{m.name}" for m in chosen}
    report = ReplayReport(as_of=instant, scratch=scratch)
    # With the auditor's own scratch database, production is opened read-only: PostgreSQL itself refuses
    # any write there, whatever the auditor's role could do.
    engine = create_engine(settings.database_url, pool_size=2, read_only=scratch_database is not None)
    scratch_base = settings.database_url
    scratch_engine = engine
    if scratch_database is not None:
        scratch_base = CommonSettings(DATABASE_URL=scratch_database).database_url  # libpq spelling accepted
        scratch_engine = create_engine(scratch_base, pool_size=2)
    clock = FixedClock(instant)
    catalogue = load_catalogue(settings.schemas_dir)
    try:
        for service, schema in scratch.items():
            await asyncio.to_thread(_migrate, service, schema, scratch_base)
        print(f"scratch {', '.join(scratch.values())} created; reading the topics from offset 0", file=out)
        events = await _read(settings, catalogue, report, out, chosen)
        rebuilds = _rebuilds(settings, catalogue, scratch_engine, clock, scratch)
        ordered = {service: rebuild.order(events[service]) for service, rebuild in rebuilds.items()}
        handlers = {service: rebuild.handle for service, rebuild in rebuilds.items()}
        await _apply(
            scratch_engine, handlers, ordered, report, batch_size=batch_size, progress_every=progress_every, out=out
        )
        for rebuild in rebuilds.values():
            await rebuild.finish(instant)
        print(report.throughput(), file=out, flush=True)
        report.tables = await _compare(engine, scratch_engine, scratch, subjects)
        return report
    finally:
        if not keep:
            async with scratch_engine.begin() as conn:
                for schema in scratch.values():
                    await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        else:
            print(f"kept scratch {', '.join(scratch.values())}", file=out)
        await engine.dispose()
        if scratch_engine is not engine:
            await scratch_engine.dispose()


def print_replay(report: ReplayReport, *, as_json: bool = False) -> int:
    if as_json:
        import orjson

        sys.stdout.write(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
        return 0 if report.identical else 1
    for line in report.lines():
        print(line)
    return 0 if report.identical else 1
