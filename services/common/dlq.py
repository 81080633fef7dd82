"""What a dead letter carries, and the headers of a re-driven event.

A consumer that cannot apply an event parks the ORIGINAL message (same key, same value, same CloudEvents
headers) on `<source topic>.dlq` and adds `x-dlq-*` headers that say what an operator needs to act on it:
which service refused it and why, where it came from (topic, partition, offset), when, and how many times
it has been dead-lettered. The service's inbox keeps the event as `dead_lettered`.

After a fix, `exchange dlq redrive` (services/dlq.py) marks the inbox row `redriving` and sends the same
message, with `x-redrive-*` headers naming its origin, to the service's own re-drive topic
`<prefix>redrive.<service>`, which only that service consumes: the record topics, which are evidence and
which every consumer reads, are never written again (docs/decisions.md, issue 10).

Inbox statuses: `applied`; `dead_lettered` (refused; a redelivery is dropped as a duplicate);
`redriving` (sent back by an operator: the next copy of the event that arrives, re-driven or original,
is applied and the row becomes `applied` again, in the same transaction as the effects).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import DBAPIError

from services.common.tasks import one_line

DLQ_SUFFIX = ".dlq"
REDRIVE_TOPIC = "redrive.{service}"  # logical name under the topic prefix

APPLIED = "applied"
DEAD_LETTERED = "dead_lettered"
REDRIVING = "redriving"

# Dead-letter headers (added to the original ones).
REASON = "x-dlq-reason"  # the error, one line, no personal data
ERROR = "x-dlq-error"  # the error class (CheckViolationError, MalformedRecordEvent, EnvelopeError …)
GROUP = "x-dlq-group"  # the consumer group that refused it
SERVICE = "x-dlq-service"  # grading | sanctions | publish (the inbox to look at)
EVENT_ID = "x-dlq-event-id"  # the inbox key (the CloudEvents id, or undecodable:<origin>)
ORIGIN = "x-dlq-origin"  # topic:partition:offset (kept for older readers)
TOPIC = "x-dlq-topic"
PARTITION = "x-dlq-partition"
OFFSET = "x-dlq-offset"
ORIGINAL_TIMESTAMP = "x-dlq-original-timestamp"  # ms since the epoch, as the source topic stamped it
AT = "x-dlq-at"  # when it was dead-lettered (ISO 8601, UTC)
ATTEMPT = "x-dlq-attempt"  # 1 the first time; n + 1 when the n-th re-drive failed again

# Re-drive headers (added to the original ones on `<prefix>redrive.<service>`).
REDRIVE_TOPIC_H = "x-redrive-topic"
REDRIVE_PARTITION = "x-redrive-partition"
REDRIVE_OFFSET = "x-redrive-offset"
REDRIVE_TIMESTAMP = "x-redrive-original-timestamp"
REDRIVE_ATTEMPT = "x-redrive-attempt"  # how many times it had been dead-lettered before this re-drive
REDRIVE_EVENT_ID = "x-redrive-event-id"  # the inbox row it was re-driven for
REDRIVE_AT = "x-redrive-at"

_OURS = ("x-dlq-", "x-redrive-")
# 18-character resident ID numbers (GB 11643): never in an error text an operator reads.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}[01]\d[0-3]\d\d{3}[0-9Xx](?![0-9A-Za-z])")

Headers = Sequence[tuple[str, bytes]]


def redrive_topic(topic_prefix: str, service: str) -> str:
    return topic_prefix + REDRIVE_TOPIC.format(service=service)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an event was first read: the record (or outcome) topic, partition and offset."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None = None
    attempt: int = 0  # times dead-lettered before this delivery (0: a first delivery)

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


def header(headers: Iterable[tuple[str, bytes]], name: str) -> str | None:
    """The last value of header `name`, decoded (None if absent or not UTF-8)."""
    found: str | None = None
    for key, value in headers:
        if key == name:
            try:
                found = value.decode()
            except UnicodeDecodeError:
                found = None
    return found


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def origin_of(topic: str, partition: int, offset: int, timestamp: int | None, headers: Headers) -> Origin:
    """The origin of a consumed message: the one its re-drive headers name, else where it was read."""
    if any(key.startswith("x-redrive-") for key, _ in headers):
        source = header(headers, REDRIVE_TOPIC_H)
        p, o = _int(header(headers, REDRIVE_PARTITION)), _int(header(headers, REDRIVE_OFFSET))
        if source and p is not None and o is not None:
            return Origin(
                source, p, o, _int(header(headers, REDRIVE_TIMESTAMP)), _int(header(headers, REDRIVE_ATTEMPT)) or 0
            )
    return Origin(topic, partition, offset, timestamp, 0)


def original_headers(headers: Headers) -> list[tuple[str, bytes]]:
    """The message's own headers (CloudEvents attributes …) without ours."""
    return [(key, value) for key, value in headers if not key.startswith(_OURS)]


def dead_letter_headers(
    headers: Headers,
    *,
    origin: Origin,
    group: str,
    service: str,
    event_id: str,
    error: str,
    reason: str,
    at: datetime,
) -> list[tuple[str, bytes]]:
    added = {
        REASON: reason[:1000],
        ERROR: error,
        GROUP: group,
        SERVICE: service,
        EVENT_ID: event_id,
        ORIGIN: str(origin),
        TOPIC: origin.topic,
        PARTITION: str(origin.partition),
        OFFSET: str(origin.offset),
        AT: at.isoformat(),
        ATTEMPT: str(origin.attempt + 1),
    }
    if origin.timestamp is not None:
        added[ORIGINAL_TIMESTAMP] = str(origin.timestamp)
    return [*original_headers(headers), *((k, v.encode()) for k, v in added.items())]


def redrive_headers(
    headers: Headers, *, origin: Origin, attempt: int, event_id: str, at: datetime
) -> list[tuple[str, bytes]]:
    added = {
        REDRIVE_TOPIC_H: origin.topic,
        REDRIVE_PARTITION: str(origin.partition),
        REDRIVE_OFFSET: str(origin.offset),
        REDRIVE_ATTEMPT: str(attempt),
        REDRIVE_EVENT_ID: event_id,
        REDRIVE_AT: at.isoformat(),
    }
    if origin.timestamp is not None:
        added[REDRIVE_TIMESTAMP] = str(origin.timestamp)
    return [*original_headers(headers), *((k, v.encode()) for k, v in added.items())]


def mask_personal(text: str) -> str:
    """Error texts are read by operators and kept on the dead-letter topic: mask ID numbers in them."""
    return _ID_NUMBER.sub("[ID number]", text)


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """(error class, one-line reason) of a handler's failure, safe to log and to put on a topic.

    A database error is named by the driver's class and SQLSTATE with the server's first message line only:
    SQLAlchemy's text adds the statement's parameters, and the server's DETAIL line the failing row — both
    may hold a record's personal data."""
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        cause = orig.__cause__ if orig is not None and orig.__cause__ is not None else orig
        sqlstate = getattr(orig, "sqlstate", None) or getattr(cause, "sqlstate", None)
        name = type(cause).__name__ if cause is not None else type(exc).__name__
        text = str(cause) if cause is not None else ""
        first = text.splitlines()[0] if text else ""
        if first.startswith("<class "):  # SQLAlchemy's adapter prefixes "<class 'asyncpg…'>: "
            first = first.split(">: ", 1)[-1]
        state = f" (SQLSTATE {sqlstate})" if sqlstate else ""
        return name, mask_personal(f"{name}{state}: {first}")[:1000]
    return type(exc).__name__, mask_personal(one_line(exc, limit=1000))


__all__ = [
    "APPLIED",
    "DEAD_LETTERED",
    "DLQ_SUFFIX",
    "REDRIVING",
    "Origin",
    "dead_letter_headers",
    "describe_failure",
    "header",
    "mask_personal",
    "origin_of",
    "original_headers",
    "redrive_headers",
    "redrive_topic",
]
