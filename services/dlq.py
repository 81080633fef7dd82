"""`exchange dlq list` and `exchange dlq redrive`: the operator's side of dead letters.

`list` reads every dead-letter topic from offset 0 (no consumer group, like the auditor's tools) and shows
one line per (service, event): its state in the service's inbox, how often it was dead-lettered, where it
came from and the last error. Only ids, types, departments and error texts are printed: never the key
(a subject's credit code or ID number) or the payload.

`redrive` applies a dead-lettered event after the operator deployed a fix. For each event it marks the
service's inbox row `redriving` (committed first), then sends the original message (same key, value and
CloudEvents headers, plus `x-redrive-*` headers naming its origin) to the service's own re-drive topic
`<prefix>redrive.<service>`. The consumer applies the first copy that arrives and flips the row to
`applied` in the same transaction as the effects; any further copy is dropped as a duplicate. So running
`redrive` twice applies an event once, and an event already applied is not sent again. If `redrive` dies
between marking and sending, the row stays `redriving` and the next `redrive` sends it again.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import ConsumerRecord
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audit.topic_reader import read_all
from services.common import dlq
from services.common.catalogue import load_catalogue
from services.common.db import check_database, create_engine
from services.common.kafka import KafkaAuth, make_producer
from services.common.settings import CommonSettings
from services.manifests import MANIFESTS

# The consuming services, and the schema of each one's inbox, as their manifests declare.
SERVICES: dict[str, str] = {m.name: m.schema for m in MANIFESTS}
WAITING = (dlq.DEAD_LETTERED, dlq.REDRIVING)


@dataclass(frozen=True)
class DeadLetter:
    """One message of a dead-letter topic, with the original message it carries."""

    dlq_topic: str
    dlq_offset: int
    service: str
    event_id: str
    event_type: str
    department: str
    origin: dlq.Origin
    error: str
    reason: str
    at: str
    attempt: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]  # the original headers (CloudEvents attributes …)


@dataclass(frozen=True)
class Listed:
    letter: DeadLetter  # the latest dead letter of the event
    times: int  # how many times this service dead-lettered it
    status: str  # the inbox row: dead_lettered, redriving, applied (after a re-drive), or "unknown"


def dead_letter_topics(settings: CommonSettings) -> list[str]:
    """`<topic>.dlq` of every topic a service consumes (services/topics.py creates them)."""
    catalogue = load_catalogue(settings.schemas_dir)
    return [
        settings.topic(name) + dlq.DLQ_SUFFIX
        for name, topic in sorted(catalogue.topics.items())
        if topic.kind in ("record", "outcome")
    ]


def parse(message: ConsumerRecord[bytes, bytes], topic_prefix: str) -> DeadLetter:
    """A dead letter, also one written before the `x-dlq-service/-topic/-offset` headers existed."""
    headers = list(message.headers)
    group = dlq.header(headers, dlq.GROUP) or ""
    service = dlq.header(headers, dlq.SERVICE) or group.removeprefix(topic_prefix)
    topic = dlq.header(headers, dlq.TOPIC)
    partition, offset = dlq.header(headers, dlq.PARTITION), dlq.header(headers, dlq.OFFSET)
    if topic is None or partition is None or offset is None:
        parts = (dlq.header(headers, dlq.ORIGIN) or "").rsplit(":", 2)
        topic, partition, offset = parts if len(parts) == 3 else ("?", "-1", "-1")
    stamp = dlq.header(headers, dlq.ORIGINAL_TIMESTAMP)
    origin = dlq.Origin(topic, _number(partition), _number(offset), int(stamp) if stamp and stamp.isdigit() else None)
    event_id = dlq.header(headers, dlq.EVENT_ID) or dlq.header(headers, "ce_id") or f"undecodable:{origin}"
    source = dlq.header(headers, "ce_source") or ""
    department = source.removeprefix("/departments/") if source.startswith("/departments/") else ""
    if not department and "/" in event_id and not event_id.startswith("undecodable:"):
        department = event_id.split("/", 1)[0]
    return DeadLetter(
        dlq_topic=message.topic,
        dlq_offset=message.offset,
        service=service,
        event_id=event_id,
        event_type=dlq.header(headers, "ce_type") or "?",
        department=department,
        origin=origin,
        error=dlq.header(headers, dlq.ERROR) or "?",
        # Masked again: a dead letter written by an older version may carry an unmasked text.
        reason=dlq.mask_personal(dlq.header(headers, dlq.REASON) or ""),
        at=dlq.header(headers, dlq.AT) or datetime.fromtimestamp(message.timestamp / 1000, UTC).isoformat(),
        attempt=_number(dlq.header(headers, dlq.ATTEMPT) or "1"),
        key=message.key,
        value=message.value,
        headers=tuple(dlq.original_headers(headers)),
    )


def _number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return -1


async def read_dead_letters(
    settings: CommonSettings, *, service: str | None = None, topic: str | None = None, auth: KafkaAuth
) -> list[DeadLetter]:
    """Every dead letter (of `service`, about events first read from `topic`), in the order written."""
    wanted_topic = topic
    if topic is not None and not topic.startswith(settings.topic_prefix):
        wanted_topic = settings.topic(topic)  # `records.acts` as well as `exchange.records.acts`
    letters = []
    async for message in read_all(settings.kafka_bootstrap, dead_letter_topics(settings), auth=auth):
        letter = parse(message, settings.topic_prefix)
        if service is not None and letter.service != service:
            continue
        if wanted_topic is not None and letter.origin.topic != wanted_topic:
            continue
        letters.append(letter)
    return letters


def _latest(letters: Sequence[DeadLetter]) -> dict[tuple[str, str], tuple[DeadLetter, int]]:
    latest: dict[tuple[str, str], tuple[DeadLetter, int]] = {}
    for letter in letters:
        key = (letter.service, letter.event_id)
        times = latest[key][1] + 1 if key in latest else 1
        latest[key] = (letter, times)
    return latest


async def _statuses(engine: AsyncEngine, service: str, event_ids: Sequence[str]) -> dict[str, str]:
    schema = SERVICES.get(service)
    if schema is None or not event_ids:
        return {}
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT event_id, status FROM {schema}.inbox WHERE event_id = ANY(:ids)"), {"ids": list(event_ids)}
        )
        return {row.event_id: row.status for row in rows}


async def list_dead_letters(
    settings: CommonSettings, *, service: str | None, topic: str | None, auth: KafkaAuth
) -> list[Listed]:
    letters = await read_dead_letters(settings, service=service, topic=topic, auth=auth)
    latest = _latest(letters)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        await check_database(engine)
        statuses: dict[tuple[str, str], str] = {}
        for svc in sorted({s for s, _ in latest}):
            found = await _statuses(engine, svc, [e for s, e in latest if s == svc])
            statuses.update({(svc, event_id): status for event_id, status in found.items()})
    finally:
        await engine.dispose()
    return [
        Listed(letter, times, statuses.get(key, "unknown"))
        for key, (letter, times) in sorted(latest.items(), key=lambda kv: (kv[1][0].at, kv[0]))
    ]


def print_list(entries: Sequence[Listed], *, as_json: bool = False) -> int:
    """One line per dead-lettered event; tab-separated so it can be piped into `cut`/`awk` (or JSON)."""
    if as_json:
        import orjson

        rows = [
            {
                "service": e.letter.service,
                "status": e.status,
                "times": e.times,
                "dead_lettered_at": e.letter.at,
                "event_id": e.letter.event_id,
                "type": e.letter.event_type,
                "department": e.letter.department or None,
                "origin": str(e.letter.origin),
                "error": e.letter.reason,
            }
            for e in entries
        ]
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print("service\tstatus\ttimes\tdead_lettered_at\tevent_id\ttype\tdepartment\torigin\terror")
    for entry in entries:
        letter = entry.letter
        print(
            "\t".join(
                [
                    letter.service,
                    entry.status,
                    str(entry.times),
                    letter.at,
                    letter.event_id,
                    letter.event_type,
                    letter.department or "-",
                    str(letter.origin),
                    letter.reason,
                ]
            )
        )
    waiting = sum(1 for e in entries if e.status in WAITING)
    print(f"{len(entries)} dead-lettered event(s), {waiting} not applied yet")
    return 0


@dataclass
class RedriveReport:
    service: str
    sent: list[str] = field(default_factory=list)
    already_applied: list[str] = field(default_factory=list)
    not_dead_lettered: list[str] = field(default_factory=list)
    no_message: list[str] = field(default_factory=list)  # in the inbox as dead-lettered, but not on a .dlq topic
    outcome: dict[str, str] = field(default_factory=dict)  # after --wait: event id → inbox status


async def redrive(
    settings: CommonSettings,
    *,
    service: str,
    event_ids: Sequence[str] | None,
    auth: KafkaAuth,
    wait_seconds: float = 0.0,
) -> RedriveReport:
    """Send dead-lettered events of `service` (the given ids, or all when None) back to it; see the module."""
    schema = SERVICES[service]
    report = RedriveReport(service)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        await check_database(engine)
        async with engine.connect() as conn:
            if event_ids is None:
                rows = await conn.execute(
                    text(f"SELECT event_id, status FROM {schema}.inbox WHERE status = ANY(:waiting)"),
                    {"waiting": list(WAITING)},
                )
            else:
                rows = await conn.execute(
                    text(f"SELECT event_id, status FROM {schema}.inbox WHERE event_id = ANY(:ids)"),
                    {"ids": list(event_ids)},
                )
            status = {row.event_id: row.status for row in rows}
        for event_id in event_ids or []:
            if status.get(event_id) == dlq.APPLIED:
                report.already_applied.append(event_id)
            elif status.get(event_id) not in WAITING:
                report.not_dead_lettered.append(event_id)
        waiting = {event_id for event_id, s in status.items() if s in WAITING}
        if not waiting:
            return report
        latest = _latest(await read_dead_letters(settings, service=service, auth=auth))
        letters = sorted(
            (latest[(service, e)][0] for e in waiting if (service, e) in latest),
            key=lambda letter: (letter.dlq_topic, letter.dlq_offset),
        )
        report.no_message = sorted(e for e in waiting if (service, e) not in latest)
        if not letters:
            return report
        # Mark first, then send: a copy that arrived before the mark would be dropped as a duplicate.
        async with engine.begin() as conn:
            marked = await conn.execute(
                text(
                    f"UPDATE {schema}.inbox SET status = '{dlq.REDRIVING}', processed_at = now() "
                    "WHERE event_id = ANY(:ids) AND status = ANY(:waiting) RETURNING event_id"
                ),
                {"ids": [letter.event_id for letter in letters], "waiting": list(WAITING)},
            )
            to_send = {row.event_id for row in marked}
        topic = dlq.redrive_topic(settings.topic_prefix, service)
        producer = make_producer(settings.kafka_bootstrap, client_id="exchange-redrive", linger_ms=0, auth=auth)
        await producer.start()
        try:
            now = datetime.now(UTC)
            for letter in letters:
                if letter.event_id not in to_send:
                    continue  # applied meanwhile (e.g. its original was redelivered)
                headers = dlq.redrive_headers(
                    letter.headers, origin=letter.origin, attempt=letter.attempt, event_id=letter.event_id, at=now
                )
                await producer.send_and_wait(topic, key=letter.key, value=letter.value, headers=headers)
                report.sent.append(letter.event_id)
        finally:
            await producer.stop()
        if wait_seconds > 0 and report.sent:
            report.outcome = await _wait_for(engine, schema, report.sent, wait_seconds)
    finally:
        await engine.dispose()
    return report


async def _wait_for(engine: AsyncEngine, schema: str, event_ids: Sequence[str], seconds: float) -> dict[str, str]:
    """Poll the inbox until no sent event is still `redriving`, or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(f"SELECT event_id, status FROM {schema}.inbox WHERE event_id = ANY(:ids)"),
                {"ids": list(event_ids)},
            )
            status: dict[str, str] = {row.event_id: row.status for row in rows}
        if all(s != dlq.REDRIVING for s in status.values()) or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.2)


def print_redrive(report: RedriveReport, *, waited: bool) -> int:
    """Says what was sent and what was not, and why; exit code 1 when something asked for was not sent
    for a reason the operator must look at (not dead-lettered, no copy on the dead-letter topic, or
    dead-lettered again after the re-drive)."""
    topic_hint = f"`exchange dlq list --service {report.service}`"
    for event_id in report.sent:
        state = report.outcome.get(event_id, dlq.REDRIVING) if waited else "sent"
        print(f"re-driven\t{event_id}\t{state}")
    for event_id in report.already_applied:
        print(f"already applied, not sent again\t{event_id}")
    for event_id in report.not_dead_lettered:
        print(f"not dead-lettered by {report.service}, nothing to re-drive\t{event_id}")
    for event_id in report.no_message:
        print(f"dead-lettered, but no copy on the dead-letter topics: cannot re-drive\t{event_id}")
    failed_again = [e for e, s in report.outcome.items() if s == dlq.DEAD_LETTERED]
    pending = [e for e, s in report.outcome.items() if s == dlq.REDRIVING]
    summary = f"{len(report.sent)} event(s) sent to {report.service}"
    if waited:
        applied = sum(1 for s in report.outcome.values() if s == dlq.APPLIED)
        summary += f": {applied} applied, {len(failed_again)} dead-lettered again, {len(pending)} still pending"
    if not report.sent and not report.already_applied and not (report.not_dead_lettered or report.no_message):
        summary = f"nothing to re-drive for {report.service}"
    print(summary + (f"; see {topic_hint}" if failed_again or pending or report.no_message else ""))
    return 1 if failed_again or report.not_dead_lettered or report.no_message else 0


__all__ = [
    "SERVICES",
    "DeadLetter",
    "Listed",
    "RedriveReport",
    "dead_letter_topics",
    "list_dead_letters",
    "parse",
    "print_list",
    "print_redrive",
    "read_dead_letters",
    "redrive",
]
