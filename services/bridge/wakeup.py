"""Wake-ups from PostgreSQL NOTIFY: the consumer's transaction notifies `bridge_feed` when it commits new
outcomes, so a long-polling feed reader and an idle dispatcher wake at once instead of polling the
database; a lost connection only means waiting for the idle timeout (every waiter has one)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

log = logging.getLogger(__name__)
CHANNEL = "bridge_feed"


class Wakeup:
    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._conn: asyncpg.Connection[Any] | None = None

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def listen(self, dsn: str, stop: asyncio.Event) -> None:
        """Keep a LISTEN connection open until `stop`; reconnect after a failure."""
        while not stop.is_set():
            try:
                self._conn = await asyncpg.connect(dsn)
                await self._conn.add_listener(CHANNEL, lambda *_: self.fire())
                while not stop.is_set() and not self._conn.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 5)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning(
                    "LISTEN connection lost; waiters fall back to their idle timeout", extra={"error": str(exc)}
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2)
            finally:
                if self._conn is not None:
                    with contextlib.suppress(Exception):
                        await self._conn.close()
                    self._conn = None
