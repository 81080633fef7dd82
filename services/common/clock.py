"""Time, injected: rules never read the wall clock, services get a `Clock`.

Everything the exchange decides is in Asia/Shanghai (DOMAIN §4). Tests and replays pass a fixed or
settable clock so that "as of" answers are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that stands still until told otherwise (tests, replays)."""

    instant: datetime = field(default_factory=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self.instant

    def set(self, instant: datetime) -> None:
        self.instant = instant


def shanghai_date(instant: datetime) -> date:
    """The calendar date in Asia/Shanghai of an aware instant (a naive one is refused: it has no zone)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"a tz-aware datetime is required, got naive {instant.isoformat()}")
    return instant.astimezone(SHANGHAI).date()


def today(clock: Clock) -> date:
    return shanghai_date(clock.now())
