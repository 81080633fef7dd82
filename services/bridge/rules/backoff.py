"""Retry schedules: exponential back-off with a cap, and when a failing subscription is paused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Schedule:
    base_seconds: float
    """Wait after the first failure; doubled after each further one."""
    cap_seconds: float
    """The longest wait between two attempts."""
    pause_after: timedelta
    """A delivery failing for this long pauses its subscription (webhooks: at least 24 hours)."""

    def next_attempt(self, failed_attempts: int, now: datetime) -> datetime:
        """When to try again after `failed_attempts` (≥ 1) failures in a row."""
        exponent = min(max(failed_attempts - 1, 0), 40)
        return now + timedelta(seconds=min(self.base_seconds * (2**exponent), self.cap_seconds))

    def should_pause(self, first_failed_at: datetime, now: datetime) -> bool:
        return now - first_failed_at >= self.pause_after


def attempts_within(schedule: Schedule, window: timedelta) -> int:
    """How many attempts the schedule makes within `window` after a first failure (documentation, tests)."""
    n, elapsed = 1, 0.0
    while True:
        elapsed += min(schedule.base_seconds * (2 ** min(n - 1, 40)), schedule.cap_seconds)
        if elapsed > window.total_seconds():
            return n
        n += 1
