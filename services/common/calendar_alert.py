"""The missing-holiday-year alert, raised periodically (not only at start-up) and as a metric.

From 1 October the next year's State Council holiday notice is due; a service that started in September
and runs for months must still say so. `exchange_calendar_year_missing{year}` is 1 while the alert stands,
so a Prometheus rule can page the operator; the warning line repeats in the log at each check.
"""

from __future__ import annotations

import asyncio
import logging

from services.common import metrics
from services.common.calendar import WorkingDayCalendar
from services.common.clock import Clock, shanghai_date
from services.common.tasks import sleep_or_stop

log = logging.getLogger(__name__)


def missing_year(calendar: WorkingDayCalendar, clock: Clock) -> int | None:
    """The year the calendar lacks and needs now (None: nothing missing). Sets the metric."""
    today = shanghai_date(clock.now())
    needed = [today.year, today.year + 1]
    missing: int | None = None
    if calendar.missing_year_warning(today) is not None:  # the one place that says when a year is needed
        missing = today.year if not calendar.covers(today.year) else today.year + 1
    for year in needed:
        metrics.CALENDAR_YEAR_MISSING.labels(str(year)).set(1 if year == missing else 0)
    return missing


async def watch_calendar(calendar: WorkingDayCalendar, clock: Clock, stop: asyncio.Event, every_seconds: float) -> None:
    while not stop.is_set():
        if missing_year(calendar, clock) is not None:
            warning = calendar.missing_year_warning(shanghai_date(clock.now()))
            log.warning(warning, extra={"alert": "calendar_year_missing"})
        await sleep_or_stop(stop, every_seconds)
