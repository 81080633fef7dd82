"""A periodic task for state that changes because time passed (a repair period ends, a publicity period
reaches its maximum, a verification deadline passes) with no new record arriving.

Each tick calls the service's `on_tick(today)`; the work must be idempotent (it runs again after a
restart, and on every replica: each service guards its changes with its own state and inbox-like keys).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import date

from services.common.clock import Clock, shanghai_date
from services.common.tasks import sleep_or_stop

log = logging.getLogger(__name__)

OnTick = Callable[[date], Awaitable[None]]


async def run_ticker(on_tick: OnTick, *, clock: Clock, every_seconds: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await on_tick(shanghai_date(clock.now()))
        except asyncio.CancelledError:
            raise
        except Exception:
            # The next tick retries; the failure is logged with its traceback, never swallowed silently.
            log.exception("time-driven update failed; will retry at the next tick")
        await sleep_or_stop(stop, every_seconds)


async def each_isolated(codes: Iterable[str], work: Callable[[str], Awaitable[None]], *, what: str) -> list[str]:
    """Run `work` for each code in turn, each on its own: one code that always fails (a poisoned subject)
    must not hold back every later one. A failure is logged with its traceback and retried at the next
    tick; returns the codes that failed."""
    failed: list[str] = []
    for code in codes:
        try:
            await work(code)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "%s failed for one subject; the others go on, it is retried at the next tick",
                what,
                extra={"code": code},
            )
            failed.append(code)
    return failed
