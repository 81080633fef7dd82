"""The working-day calendar (工作日历) behind every deadline the exchange keeps (DOMAIN §4).

Why a module of its own: "within N working days" (N 个工作日内) is counted on the State Council's
holiday notice (国务院办公厅关于部分节假日安排的通知), *including* the make-up working weekends (调休上班),
and a wrong count either marks a department late or lets an overdue disclosure pass unnoticed.

Sources, in order of precedence:

1. ``schemas/calendar/overrides.yaml`` — the operator's copy of a newly announced notice, or a
   correction. An entry replaces the whole year: weekdays are working days except ``holidays``,
   weekends are days off except ``workdays``.
2. ``chinese_calendar`` (package ``chinesecalendar``) for the years it ships. Its coverage is read
   from the library itself, never hard-coded: a library upgrade extends the calendar automatically.

Outside both a deadline is still computed, counting Monday-Friday only, and flagged ``provisional``:
nobody may be marked late against it, and it must be recomputed once the notice is added.

Counting follows 民法典 Art. 201: the start day is not counted; the deadline ends at 24:00 of the
last day (shown as 23:59:59 Asia/Shanghai). A period counted in calendar days whose last day is not a
working day ends on the next working day (Art. 203). Nothing here reads the wall clock: callers pass dates.

The periods themselves (7 working days for a disclosure, 7 calendar days for reporting …) are the
county's service levels in ``schemas/jurisdiction.yaml`` (:mod:`services.common.jurisdiction`), never
constants here: the calendar carries the disclosure period of the schemas directory it was loaded from.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import chinese_calendar

from services.common.clock import SHANGHAI, shanghai_date
from services.common.jurisdiction import JURISDICTION_FILE, load_service_levels
from services.common.yaml_files import YamlFileError, read_yaml

__all__ = [
    "SHANGHAI",
    "CalendarOverridesError",
    "Deadline",
    "WorkingDayCalendar",
    "YearOverride",
    "default_overrides_path",
    "is_reported_late",
    "load_overrides",
]

_OVERRIDES_VERSION = 1
_REPOSITORY_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
_END_OF_DAY = time(23, 59, 59)
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class CalendarOverridesError(ValueError):
    """The overrides file is malformed; the message names the file and the offending entry."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """The last day of a period; ``provisional`` when any day counted lies in an uncovered year."""

    date: date
    provisional: bool

    def ends_at(self) -> datetime:
        """23:59:59 Asia/Shanghai of the last day (tz-aware)."""
        return datetime.combine(self.date, _END_OF_DAY, tzinfo=SHANGHAI)

    def is_overdue_at(self, at: datetime) -> bool | None:
        """Whether ``at`` (tz-aware) falls after the last day in Shanghai; None when provisional.

        Provisional dates never make anyone late (DOMAIN §4): the answer waits for the notice.
        """
        if self.provisional:
            return None
        return shanghai_date(at) > self.date


@dataclass(frozen=True, slots=True)
class YearOverride:
    """One year of the State Council notice as the operator typed it into the overrides file."""

    year: int
    notice: str
    holidays: frozenset[date]
    workdays: frozenset[date]

    def working_days(self) -> tuple[int, ...]:
        """Ordinals of the year's working days, sorted."""
        return tuple(day.toordinal() for day in _days_of(self.year) if self._is_working(day))

    def _is_working(self, day: date) -> bool:
        if day.weekday() >= 5:
            return day in self.workdays
        return day not in self.holidays


@dataclass(frozen=True, slots=True, eq=False)
class WorkingDayCalendar:
    """Working days for every covered year, held as sorted ordinals so a deadline is a bisect away.

    Build it with :meth:`load`; it is immutable and safe to share between tasks and threads.
    """

    working: Mapping[int, tuple[int, ...]]
    """Covered year → sorted ordinals of its working days."""
    overrides_path: Path | None
    """The overrides file that was read (named in operator messages)."""
    disclosure_working_days: int
    """The 公示 period of the jurisdiction (``service_levels.disclosure_working_days``)."""

    @classmethod
    def load(cls, overrides_path: Path | None = None) -> WorkingDayCalendar:
        """Library years plus the overrides file (default: ``<schemas>/calendar/overrides.yaml``).

        The disclosure period comes from ``jurisdiction.yaml`` of the same schemas directory (the one
        that holds ``calendar/``); a lone overrides file elsewhere (tests) uses the repository's.
        Raises :class:`CalendarOverridesError` for a malformed file and ``FileNotFoundError`` when
        an explicitly named file is missing. ``EXCHANGE_SCHEMAS_DIR`` relocates the schemas dir.
        """
        path = overrides_path if overrides_path is not None else default_overrides_path()
        overrides = load_overrides(path)
        working = dict(_library_working_days())
        working.update({year: entry.working_days() for year, entry in overrides.items()})
        schemas_dir = path.resolve().parent.parent
        if not (schemas_dir / JURISDICTION_FILE).exists():
            schemas_dir = _REPOSITORY_SCHEMAS
        levels = load_service_levels(schemas_dir)
        return cls(
            working=MappingProxyType(working),
            overrides_path=path,
            disclosure_working_days=levels.disclosure_working_days,
        )

    def covers(self, year: int) -> bool:
        return year in self.working

    def is_working_day(self, d: date) -> bool | None:
        """True/False per the notice; None when the year is not covered."""
        days = self.working.get(d.year)
        if days is None:
            return None
        ordinal = d.toordinal()
        index = bisect_right(days, ordinal)
        return index > 0 and days[index - 1] == ordinal

    def add_working_days(self, start: date, n: int) -> Deadline:
        """The n-th working day after ``start`` (start not counted, 民法典 Art. 201), n ≥ 1.

        Uncovered years count Monday-Friday and make the result provisional.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        cursor, year, remaining, provisional = start.toordinal(), start.year, n, False
        while True:
            days, covered = self._days_of_year(year)
            year_end = date(year, 12, 31).toordinal()
            if not covered and cursor < year_end:
                provisional = True
            first = bisect_right(days, cursor)
            if remaining <= len(days) - first:
                return Deadline(date.fromordinal(days[first + remaining - 1]), provisional)
            remaining -= len(days) - first
            cursor, year = year_end, year + 1

    def disclosure_deadline(self, decision_date: date) -> Deadline:
        """Publication deadline of a disclosure record: ``disclosure_working_days`` after the decision."""
        return self.add_working_days(decision_date, self.disclosure_working_days)

    def reporting_deadline(self, decision_date: date, days: int) -> Deadline:
        """Last day of the department's reporting clock: ``days`` calendar days after the decision (000 L103),
        moved to the next working day when that day is not one (民法典 Art. 203: a period whose last day is
        a statutory holiday ends on the day after the holiday).

        Provisional when the last day lies in a year the calendar does not cover (Monday-Friday stand in).
        """
        last, provisional = decision_date + timedelta(days=days), False
        while True:
            working, covered = self._days_of_year(last.year)
            provisional = provisional or not covered
            index = bisect_right(working, last.toordinal() - 1)  # the first working day on or after `last`
            if index < len(working):
                return Deadline(date.fromordinal(working[index]), provisional)
            last = date(last.year + 1, 1, 1)

    def working_days_between(self, start: date, end: date) -> int | None:
        """Working days in (start, end]; None when any of those days lies in an uncovered year.

        Raises ``ValueError`` when ``end`` is before ``start``.
        """
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        low, high, count = start.toordinal(), end.toordinal(), 0
        for year in range(start.year, end.year + 1):
            if year == start.year and start == date(year, 12, 31):
                continue  # (start, end] holds no day of the start year
            days = self.working.get(year)
            if days is None:
                return None
            count += bisect_right(days, high) - bisect_right(days, low)
        return count

    def missing_year_warning(self, today: date) -> str | None:
        """An operator message (Chinese + English) when the calendar lacks a year it needs soon.

        From 1 October the next year must be covered (the notice usually appears in
        October-November); a missing current year is reported on any day.
        """
        if not self.covers(today.year):
            year = today.year
        elif today >= date(today.year, 10, 1) and not self.covers(today.year + 1):
            year = today.year + 1
        else:
            return None
        where = self.overrides_path or default_overrides_path()
        return (
            f"工作日历缺少 {year} 年节假日安排：请在国务院办公厅发布《关于{year}年部分节假日安排的通知》"
            f"后，将放假日期和调休上班日期补录到 {where}；补录前涉及 {year} 年的期限只按周一至周五"
            f"临时计算（provisional），不据此认定逾期。 "
            f"(The working-day calendar has no {year} holiday schedule: add the State "
            f"Council notice for {year} (holidays and make-up working days) to {where}. Until then "
            f"deadlines reaching into {year} are provisional, counting Monday-Friday only, and nobody "
            f"is marked late against them.)"
        )

    def _days_of_year(self, year: int) -> tuple[tuple[int, ...], bool]:
        days = self.working.get(year)
        if days is not None:
            return days, True
        return _weekday_ordinals(year), False


def is_reported_late(deadline: Deadline, received_at: datetime) -> bool:
    """Whether a record received at ``received_at`` (tz-aware) missed its reporting deadline
    (:meth:`WorkingDayCalendar.reporting_deadline`).

    Late means received, in Shanghai time, on a day after the last day: the whole last day counts
    (民法典 Art. 203, the period ends at 24:00). A provisional deadline never makes a department late.
    """
    return deadline.is_overdue_at(received_at) is True


def default_overrides_path() -> Path:
    """``$EXCHANGE_SCHEMAS_DIR/calendar/overrides.yaml``, else the repository's ``schemas/``."""
    schemas = os.environ.get("EXCHANGE_SCHEMAS_DIR")
    base = Path(schemas) if schemas else Path(__file__).resolve().parents[2] / "schemas"
    return base / "calendar" / "overrides.yaml"


def load_overrides(path: Path) -> dict[int, YearOverride]:
    """Read and strictly validate an overrides file; errors name the file and the entry."""
    if not path.is_file():  # named explicitly and absent: the caller's mistake, not a malformed file
        raise FileNotFoundError(f"{path}: no calendar overrides file")
    try:
        document = read_yaml(path)
    except YamlFileError as error:
        raise CalendarOverridesError(str(error)) from error
    if not isinstance(document, dict):
        raise CalendarOverridesError(f"{path}: expected a mapping with 'version' and 'years'")
    _expect_keys(path, "top level", document, {"version", "years"})
    version = document["version"]
    if type(version) is not int or version != _OVERRIDES_VERSION:
        raise CalendarOverridesError(f"{path}: version: expected {_OVERRIDES_VERSION}, got {version!r}")
    years = document["years"]
    if years is None:
        return {}
    if not isinstance(years, dict):
        raise CalendarOverridesError(f"{path}: years: expected a mapping of year → entry")
    return {year: _parse_year(path, year, entry) for year, entry in years.items()}


def _parse_year(path: Path, year: object, entry: object) -> YearOverride:
    if type(year) is not int or not 1900 <= year <= 2200:
        raise CalendarOverridesError(f"{path}: years: key {year!r} is not a year (write it as 2027:)")
    where = f"years.{year}"
    if not isinstance(entry, dict):
        raise CalendarOverridesError(f"{path}: {where}: expected notice, holidays and workdays")
    _expect_keys(path, where, entry, {"notice", "holidays", "workdays"})
    notice = entry["notice"]
    if not isinstance(notice, str) or not notice.strip():
        raise CalendarOverridesError(f"{path}: {where}.notice: name the notice (e.g. 国办发明电〔2026〕N号)")
    holidays = _parse_dates(path, f"{where}.holidays", year, entry["holidays"])
    workdays = _parse_dates(path, f"{where}.workdays", year, entry["workdays"])
    both = sorted(holidays & workdays)
    if both:
        raise CalendarOverridesError(f"{path}: {where}: {both[0]} is listed both as holiday and as workday")
    for day in sorted(holidays):
        if day.weekday() >= 5:
            raise CalendarOverridesError(
                f"{path}: {where}.holidays: {day} is a {_WEEKDAY_NAMES[day.weekday()]}; weekends are "
                f"days off already, list only weekdays that are days off"
            )
    for day in sorted(workdays):
        if day.weekday() < 5:
            raise CalendarOverridesError(
                f"{path}: {where}.workdays: {day} is a {_WEEKDAY_NAMES[day.weekday()]}; list only "
                f"weekends that are make-up working days (调休上班)"
            )
    return YearOverride(year=year, notice=notice.strip(), holidays=holidays, workdays=workdays)


def _parse_dates(path: Path, where: str, year: int, value: object) -> frozenset[date]:
    if not isinstance(value, list):
        raise CalendarOverridesError(f"{path}: {where}: expected a list of dates like [{year}-01-01]")
    seen: set[date] = set()
    for index, item in enumerate(value):
        if type(item) is not date:
            raise CalendarOverridesError(
                f"{path}: {where}[{index}]: {item!r} is not a date; write YYYY-MM-DD without quotes"
            )
        if item.year != year:
            raise CalendarOverridesError(f"{path}: {where}[{index}]: {item} is not in {year}")
        if item in seen:
            raise CalendarOverridesError(f"{path}: {where}[{index}]: {item} is listed twice")
        seen.add(item)
    return frozenset(seen)


def _expect_keys(path: Path, where: str, mapping: dict[Any, Any], expected: set[str]) -> None:
    missing, unknown = expected - mapping.keys(), mapping.keys() - expected
    if missing or unknown:
        raise CalendarOverridesError(
            f"{path}: {where}: expected keys {sorted(expected)}; "
            f"missing {sorted(missing)}, unknown {sorted(map(str, unknown))}"
        )


@cache
def _library_working_days() -> Mapping[int, tuple[int, ...]]:
    """Working-day ordinals for every year ``chinese_calendar`` covers (computed once per process).

    The candidate years come from the library's own data; each is confirmed by asking
    ``is_workday``, which raises NotImplementedError for a year it does not cover.
    """
    known = list(chinese_calendar.holidays) + list(chinese_calendar.workdays)
    result: dict[int, tuple[int, ...]] = {}
    for year in range(min(known).year, max(known).year + 1):
        try:
            result[year] = tuple(d.toordinal() for d in _days_of(year) if chinese_calendar.is_workday(d))
        except NotImplementedError:
            continue
    return result


@lru_cache(maxsize=64)
def _weekday_ordinals(year: int) -> tuple[int, ...]:
    """Monday-Friday of an uncovered year: the provisional stand-in for its working days."""
    return tuple(d.toordinal() for d in _days_of(year) if d.weekday() < 5)


def _days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]
