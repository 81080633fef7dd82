"""Small helpers for the background loops (relay, consumer, ticker, writer)."""

from __future__ import annotations

import asyncio
import contextlib


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile (so shutdown never waits for a back-off)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def one_line(exc: BaseException, limit: int = 500) -> str:
    """An exception as one log-friendly line: its class and the first line of its message."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first}"[:limit]
