"""The request id: one value that follows a record from its POST to every consumer.

Taken from the caller's `X-Request-ID` when it is a plain token (so a department's own trace id carries
through), otherwise made here; answered in `X-Request-ID`, written into every log line of the request, and
carried by the record's CloudEvent as the extension attribute `requestid` (Kafka header `ce_requestid`),
which consumers put into the log lines of applying it.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

HEADER = "x-request-id"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def current() -> str | None:
    return _current.get()


def accept(header_value: str | None) -> str:
    """The caller's id if it is safe to log and forward, else a new one."""
    if header_value and _VALID.match(header_value):
        return header_value
    return uuid.uuid4().hex


def bind(value: str | None) -> object:
    """Set the current id; returns a token for `reset`."""
    return _current.set(value)


def reset(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
