"""`exchange audit replay` (DOMAIN §10): rebuild the derived state of the consuming services from offset 0
of the topics into scratch schemas, with the services' own migrations and live handlers and the clock
fixed at an as-of instant, then compare it with the live state.

- grading consumes the record topics (`record_handler`);
- sanctions consumes the record topics and `outcomes.grades` / `outcomes.objections` (`SanctionsHandler`),
  as the topics carry them (the grades the live grading announced, the objections publish announced).

Events are applied in batches, each event in a savepoint of its own; an event a handler refuses is
counted (the live service dead-letters it) and the replay carries on. Repeated event ids (a relay
re-sending) are applied once, as the inbox of the live consumer does.

Publish is not rebuilt: its store names the `publish` schema in its SQL, so it cannot be pointed at a
scratch schema yet (see `NOT_REPLAYED`).
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Collection
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
from services.common.migrations import alembic_config
from services.common.settings import CommonSettings

Handle = Callable[[AsyncConnection, CloudEvent], Awaitable[None]]
NOT_REPLAYED = {"publish": "its store writes to the fixed schema `publish`; it needs a schema parameter first"}


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
        for service, why in NOT_REPLAYED.items():
            out.append(f"{service}: not replayed ({why})")
        for service, refused in sorted(self.refused.items()):
            out.append(
                f"{service}: {len(refused)} event(s) refused by the handler (the live service dead-letters them)"
            )
            out += [f"  {r}" for r in refused[:10]]
        verdict = "identical" if self.identical else "DIFFERENCES FOUND"
        out.append(f"{verdict}: {sum(t.live_rows for t in self.tables)} live rows in {len(self.tables)} tables")
        return out

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


def _handlers(
    settings: CommonSettings, catalogue: Catalogue, engine: AsyncEngine, clock: FixedClock, scratch: dict[str, str]
) -> dict[str, Handle]:
    from services.grading.handlers import load_context, record_handler
    from services.sanctions.handlers import SanctionsContext, SanctionsHandler
    from services.sanctions.rules import load_measure_list
    from services.sanctions.rules.measures import MEASURES_FILE
    from services.sanctions.store import Store

    sanctions = SanctionsContext(
        engine=engine,
        store=Store(scratch["sanctions"]),
        measure_list=load_measure_list(settings.schemas_dir / MEASURES_FILE, departments=catalogue.departments),
        clock=clock,
        outcome_topic=settings.topic("outcomes.sanctions"),
        audit_topic=settings.topic("audit.access"),
    )
    return {
        "grading": record_handler(load_context(settings, clock, schema=scratch["grading"])),
        "sanctions": SanctionsHandler(sanctions).handle,
    }


async def _read(
    settings: CommonSettings, catalogue: Catalogue, report: ReplayReport, out: TextIO
) -> dict[str, list[CloudEvent]]:
    """Each service's events, in topic order, each event id once."""
    records = [settings.topic(name) for name, topic in sorted(catalogue.topics.items()) if topic.kind == "record"]
    outcomes = [settings.topic("outcomes.grades"), settings.topic("outcomes.objections")]
    consumed = {"grading": set(records), "sanctions": {*records, *outcomes}}
    events: dict[str, list[CloudEvent]] = {service: [] for service in consumed}
    seen: set[str] = set()
    started = time.monotonic()
    async for m in read_all(settings.kafka_bootstrap, [*records, *outcomes]):
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
    """Each service's events in order, `batch_size` per transaction, each event in a savepoint of its own
    (as the live consumer applies a batch): an event its handler refuses is rolled back alone."""
    total = sum(len(e) for e in events.values())
    done = 0
    started = time.monotonic()
    for service, handle in handlers.items():
        report.applied[service] = 0
        todo = events[service]
        for first in range(0, len(todo), batch_size):
            async with engine.begin() as conn:
                for event in todo[first : first + batch_size]:
                    try:
                        async with conn.begin_nested():
                            await handle(conn, event)
                        report.applied[service] += 1
                    except Exception as exc:  # the live consumer dead-letters such an event; reported below
                        report.refused.setdefault(service, []).append(f"{event.id}: {exc!r}"[:300])
                    done += 1
                    if done % progress_every == 0:
                        rate = done / max(time.monotonic() - started, 1e-6)
                        print(f"  applied {done}/{total} events ({rate:.0f}/s) …", file=out, flush=True)
    report.apply_seconds = time.monotonic() - started


async def _compare(
    engine: AsyncEngine, scratch: dict[str, str], subjects: Collection[str] | None
) -> list[TableComparison]:
    """Both sides read in one repeatable-read snapshot, so a live service writing meanwhile is seen once."""
    from services.sanctions.settings import SanctionsSettings

    live = {"grading": "grading", "sanctions": SanctionsSettings().db_schema}
    found = []
    async with engine.connect() as plain:
        conn = await plain.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            for spec in TABLES:
                live_rows = await read_table(conn, live[spec.service], spec, subjects)
                rebuilt_rows = await read_table(conn, scratch[spec.service], spec, subjects)
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
) -> ReplayReport:
    """Rebuild, compare, and drop the scratch schemas (unless `keep`). `subjects` limits the comparison to
    those subject codes (every event is still applied). Progress and throughput go to `out`."""
    instant = as_of or datetime.now(SHANGHAI)
    if instant.tzinfo is None:  # a naive --as-of is read in Asia/Shanghai, where every date is decided
        instant = instant.replace(tzinfo=SHANGHAI)
    prefix = f"replay_{uuid.uuid4().hex[:8]}"
    scratch = {service: f"{prefix}_{service}" for service in ("grading", "sanctions")}
    report = ReplayReport(as_of=instant, scratch=scratch)
    engine = create_engine(settings.database_url, pool_size=2)
    try:
        for service, schema in scratch.items():
            await asyncio.to_thread(_migrate, service, schema, settings.database_url)
        print(f"scratch schemas {', '.join(scratch.values())} created; reading the topics from offset 0", file=out)
        catalogue = load_catalogue(settings.schemas_dir)
        events = await _read(settings, catalogue, report, out)
        handlers = _handlers(settings, catalogue, engine, FixedClock(instant), scratch)
        await _apply(engine, handlers, events, report, batch_size=batch_size, progress_every=progress_every, out=out)
        print(report.throughput(), file=out, flush=True)
        report.tables = await _compare(engine, scratch, subjects)
        return report
    finally:
        if not keep:
            async with engine.begin() as conn:
                for schema in scratch.values():
                    await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        else:
            print(f"kept scratch schemas {', '.join(scratch.values())}", file=out)
        await engine.dispose()


def print_replay(report: ReplayReport) -> int:
    for line in report.lines():
        print(line)
    return 0 if report.identical else 1
