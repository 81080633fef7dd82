"""The request id: one value that follows a record from its POST to every consumer.

Taken from the caller's `X-Request-ID` when it is a plain token (so a department's own trace id carries
through), otherwise made here; answered in `X-Request-ID`, written into every log line of the request, and
carried by the record's CloudEvent as the extension attribute `requestid` (Kafka header `ce_requestid`),
which consumers put into the log lines of applying it.
"""

from __future__ import annotations

import random
import re
from contextvars import ContextVar

HEADER = "x-request-id"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)
# While a consumer applies events: subject code → request id of the (last) applied event about it. Outcome
# events are about a subject, and a batch handler recomputes per subject, so this names each outcome's cause.
_causes: ContextVar[dict[str, str] | None] = ContextVar("request_id_causes", default=None)


def current() -> str | None:
    return _current.get()


# A new id is a random UUID (version 4) in hex, as `uuid.uuid4().hex` makes it, from a generator seeded once
# per process from the system's randomness: an id needs to be unique, not secret (a caller may choose its
# own), and a read of the system's randomness per request cost ~4 times as much CPU.
_random = random.Random()
_VERSION_4 = (0x4 << 76) | (0x2 << 62)
_NOT_VERSION = ((1 << 128) - 1) ^ ((0xF << 76) | (0x3 << 62))


def accept(header_value: str | None) -> str:
    """The caller's id if it is safe to log and forward, else a new one."""
    if header_value and _VALID.match(header_value):
        return header_value
    return f"{_random.getrandbits(128) & _NOT_VERSION | _VERSION_4:032x}"


def bind(value: str | None) -> object:
    """Set the current id; returns a token for `reset`."""
    return _current.set(value)


def reset(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def bind_causes(causes: dict[str, str]) -> object:
    """Set the request ids of the events being applied, by subject; returns a token for `reset_causes`."""
    return _causes.set(causes)


def reset_causes(token: object) -> None:
    _causes.reset(token)  # type: ignore[arg-type]


def cause_of(subject: str) -> str | None:
    """The request id an outcome about `subject` carries: that of the applied event about the same subject,
    else the HTTP request being served (an API that emits, e.g. a supervision plan), else none."""
    causes = _causes.get()
    return (causes or {}).get(subject) or _current.get()
