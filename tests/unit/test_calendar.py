"""The working-day calendar: DOMAIN §4 examples, overrides, provisional deadlines, reporting clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.calendar import (
    SHANGHAI,
    CalendarOverridesError,
    Deadline,
    WorkingDayCalendar,
    is_reported_late,
)
from services.common.clock import shanghai_date

EMPTY_OVERRIDES = "version: 1\nyears: {}\n"
# A plausible 2027 notice, for tests only (the real one is not published yet).
OVERRIDES_2027 = """\
version: 1
years:
  2027:
    notice: 国办发明电〔2026〕N号
    holidays: [2027-01-01, 2027-02-05, 2027-02-08, 2027-02-09, 2027-02-10, 2027-02-11]
    workdays: [2027-02-20]
"""


def _library_last_year() -> int:
    year = int(max(chinese_calendar.holidays).year)
    chinese_calendar.is_workday(date(year, 6, 1))  # covered, or this raises
    return year


LIBRARY_LAST_YEAR = _library_last_year()
needs_2027_uncovered = pytest.mark.skipif(
    LIBRARY_LAST_YEAR >= 2027,
    reason="chinesecalendar now covers 2027: move these cases to the first year it does not cover",
)


def _write(tmp_path: Path, text: str, name: str = "overrides.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def calendar(tmp_path_factory: pytest.TempPathFactory) -> WorkingDayCalendar:
    """The library's years only, whatever the repository's overrides file holds today."""
    return WorkingDayCalendar.load(_write(tmp_path_factory.mktemp("cal"), EMPTY_OVERRIDES))


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        pytest.param(date(2026, 9, 28), date(2026, 10, 13), id="domain-2026-09-28-across-national-day"),
        # The library agrees with DOMAIN §4: Saturday 2026-10-10 is a make-up working day (调休上班).
        pytest.param(date(2026, 9, 29), date(2026, 10, 14), id="domain-2026-09-29-make-up-saturday-10-10"),
        # Saturdays 2026-02-14 and 2026-02-28 are make-up working days around the Spring Festival.
        pytest.param(date(2026, 2, 13), date(2026, 3, 2), id="domain-2026-02-13-across-spring-festival"),
        pytest.param(date(2026, 3, 6), date(2026, 3, 17), id="decision-on-friday-start-day-not-counted"),
        pytest.param(date(2026, 3, 8), date(2026, 3, 17), id="decision-on-sunday"),
        pytest.param(date(2026, 10, 1), date(2026, 10, 15), id="decision-on-a-holiday"),
    ],
)
def test_disclosure_deadline_is_seventh_working_day_after_decision(
    calendar: WorkingDayCalendar, decision: date, expected: date
) -> None:
    assert calendar.disclosure_deadline(decision) == Deadline(expected, provisional=False)


def test_make_up_saturday_counts_as_a_working_day(calendar: WorkingDayCalendar) -> None:
    assert calendar.is_working_day(date(2026, 10, 10)) is True
    assert calendar.add_working_days(date(2026, 10, 9), 1).date == date(2026, 10, 10)


def test_start_day_is_not_counted_even_when_it_is_a_working_day(calendar: WorkingDayCalendar) -> None:
    assert calendar.add_working_days(date(2026, 3, 6), 1).date == date(2026, 3, 9)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(date(2026, 10, 1), False, id="national-day"),
        pytest.param(date(2026, 10, 11), False, id="ordinary-sunday"),
        pytest.param(date(2026, 10, 12), True, id="ordinary-monday"),
        pytest.param(date(2026, 10, 10), True, id="make-up-saturday"),
        pytest.param(date(2003, 6, 2), None, id="before-library-coverage"),
        pytest.param(date(LIBRARY_LAST_YEAR + 1, 6, 1), None, id="after-library-coverage"),
    ],
)
def test_is_working_day(calendar: WorkingDayCalendar, day: date, expected: bool | None) -> None:
    assert calendar.is_working_day(day) is expected


def test_coverage_is_what_the_library_answers(calendar: WorkingDayCalendar) -> None:
    covered = [year for year in range(1990, 2100) if calendar.covers(year)]
    assert covered == list(range(2004, LIBRARY_LAST_YEAR + 1))
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(LIBRARY_LAST_YEAR + 1, 1, 4))


def test_n_below_one_is_refused(calendar: WorkingDayCalendar) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        calendar.add_working_days(date(2026, 3, 6), 0)


@needs_2027_uncovered
def test_deadline_running_into_uncovered_2027_is_provisional_and_counts_weekdays(
    calendar: WorkingDayCalendar,
) -> None:
    # 12-28, 29, 30, 31, then 2027-01-01 (a Friday, surely 元旦 but unknown yet), 01-04, 01-05.
    assert calendar.disclosure_deadline(date(2026, 12, 25)) == Deadline(date(2027, 1, 5), provisional=True)


@needs_2027_uncovered
def test_adding_2027_to_the_overrides_makes_the_deadline_final(tmp_path: Path) -> None:
    updated = WorkingDayCalendar.load(_write(tmp_path, OVERRIDES_2027))
    assert updated.covers(2027)
    assert updated.disclosure_deadline(date(2026, 12, 25)) == Deadline(date(2027, 1, 6), provisional=False)


def test_deadline_wholly_in_an_uncovered_year_counts_monday_to_friday(calendar: WorkingDayCalendar) -> None:
    year = LIBRARY_LAST_YEAR + 1
    monday = date(year, 6, 1) + timedelta(days=-date(year, 6, 1).weekday() + 7)
    assert calendar.add_working_days(monday, 7) == Deadline(monday + timedelta(days=9), provisional=True)


def test_start_in_uncovered_year_with_all_days_counted_covered_is_not_provisional(
    calendar: WorkingDayCalendar,
) -> None:
    # (2003-12-31, 2004-01-02]: 2004-01-01 is 元旦, the Friday is the first working day.
    assert calendar.add_working_days(date(2003, 12, 31), 1) == Deadline(date(2004, 1, 2), provisional=False)


def test_overrides_entry_replaces_a_library_year(tmp_path: Path) -> None:
    corrected = WorkingDayCalendar.load(
        _write(tmp_path, "version: 1\nyears:\n  2026:\n    notice: 更正\n    holidays: []\n    workdays: []\n")
    )
    assert corrected.is_working_day(date(2026, 10, 1)) is True
    assert corrected.is_working_day(date(2026, 10, 10)) is False


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(date(2026, 9, 28), date(2026, 10, 13), 7, id="domain-example"),
        pytest.param(date(2026, 10, 13), date(2026, 10, 13), 0, id="empty-interval"),
        pytest.param(date(2026, 10, 9), date(2026, 10, 11), 1, id="make-up-saturday-counted-sunday-not"),
        pytest.param(date(2003, 12, 31), date(2004, 1, 5), 2, id="start-on-last-day-of-uncovered-year"),
        pytest.param(date(2003, 12, 30), date(2004, 1, 5), None, id="a-day-in-uncovered-year"),
        pytest.param(date(LIBRARY_LAST_YEAR, 12, 1), date(LIBRARY_LAST_YEAR + 1, 1, 8), None, id="into-next"),
    ],
)
def test_working_days_between(calendar: WorkingDayCalendar, start: date, end: date, expected: int | None) -> None:
    assert calendar.working_days_between(start, end) == expected


def test_working_days_between_refuses_end_before_start(calendar: WorkingDayCalendar) -> None:
    with pytest.raises(ValueError, match="before start"):
        calendar.working_days_between(date(2026, 10, 13), date(2026, 10, 12))


def test_deadline_ends_at_235959_shanghai() -> None:
    ends = Deadline(date(2026, 10, 13), provisional=False).ends_at()
    assert ends.tzinfo == SHANGHAI
    assert ends == datetime(2026, 10, 13, 15, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("deadline", "at", "expected"),
    [
        pytest.param(date(2026, 10, 13), datetime(2026, 10, 13, 15, 59, 59, tzinfo=UTC), False, id="last-sec"),
        pytest.param(date(2026, 10, 13), datetime(2026, 10, 13, 16, 0, 0, tzinfo=UTC), True, id="next-day"),
    ],
)
def test_deadline_overdue_is_judged_in_shanghai(deadline: date, at: datetime, expected: bool) -> None:
    assert Deadline(deadline, provisional=False).is_overdue_at(at) is expected


def test_nobody_is_overdue_against_a_provisional_deadline() -> None:
    assert Deadline(date(2027, 1, 5), provisional=True).is_overdue_at(datetime(2027, 6, 1, tzinfo=UTC)) is None


def test_missing_year_warning_starts_on_1_october(calendar: WorkingDayCalendar) -> None:
    year = LIBRARY_LAST_YEAR
    assert calendar.missing_year_warning(date(year, 9, 30)) is None
    message = calendar.missing_year_warning(date(year, 10, 1))
    assert message is not None
    assert f"缺少 {year + 1} 年" in message
    assert f"no {year + 1} holiday schedule" in message
    assert str(calendar.overrides_path) in message


def test_missing_year_warning_for_an_uncovered_current_year(calendar: WorkingDayCalendar) -> None:
    message = calendar.missing_year_warning(date(LIBRARY_LAST_YEAR + 1, 3, 1))
    assert message is not None
    assert f"no {LIBRARY_LAST_YEAR + 1} holiday schedule" in message


@needs_2027_uncovered
def test_no_missing_year_warning_once_2027_is_in_the_overrides(tmp_path: Path) -> None:
    assert WorkingDayCalendar.load(_write(tmp_path, OVERRIDES_2027)).missing_year_warning(date(2026, 10, 1)) is None


def test_default_overrides_file_follows_exchange_schemas_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "calendar").mkdir()
    path = _write(tmp_path / "calendar", OVERRIDES_2027)
    monkeypatch.setenv("EXCHANGE_SCHEMAS_DIR", str(tmp_path))
    loaded = WorkingDayCalendar.load()
    assert loaded.overrides_path == path
    assert loaded.covers(2027)


def test_repository_overrides_file_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXCHANGE_SCHEMAS_DIR", raising=False)
    loaded = WorkingDayCalendar.load()
    assert loaded.overrides_path is not None
    assert loaded.overrides_path.parts[-3:] == ("schemas", "calendar", "overrides.yaml")


def test_missing_explicit_overrides_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        WorkingDayCalendar.load(tmp_path / "absent.yaml")


def _entry(holidays: str = "[2027-01-01]", workdays: str = "[2027-02-20]", extra: str = "") -> str:
    return (
        f"version: 1\nyears:\n  2027:\n    notice: 国办发明电〔2026〕N号\n"
        f"    holidays: {holidays}\n    workdays: {workdays}\n{extra}"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            _entry(holidays="[2026-12-31]"),
            r"years\.2027\.holidays\[0\]: 2026-12-31 is not in 2027",
            id="date-in-wrong-year",
        ),
        pytest.param(
            _entry(holidays="[2027-01-04]", workdays="[2027-01-04]"),
            "2027-01-04 is listed both as holiday and as workday",
            id="both-holiday-and-workday",
        ),
        pytest.param(
            _entry(holidays="[2027-01-02]"),
            "holidays: 2027-01-02 is a Saturday; weekends are",
            id="weekend-listed-as-holiday",
        ),
        pytest.param(
            _entry(workdays="[2027-01-04]"),
            "workdays: 2027-01-04 is a Monday; list only weekends",
            id="weekday-listed-as-workday",
        ),
        pytest.param(
            _entry(holidays="[2027-01-01, 2027-01-01]"),
            r"holidays\[1\]: 2027-01-01 is listed twice",
            id="date-listed-twice",
        ),
        pytest.param(
            _entry(holidays='["2027-01-01"]'),
            "'2027-01-01' is not a date; write YYYY-MM-DD",
            id="quoted-date",
        ),
        pytest.param(_entry(holidays="2027-01-01"), r"years\.2027\.holidays: expected a list", id="not-a-list"),
        pytest.param(
            "version: 1\nyears:\n  2027:\n    holidays: []\n    workdays: []\n",
            r"years\.2027: expected keys .* missing \['notice'\]",
            id="missing-notice",
        ),
        pytest.param(_entry(extra="    holiday: []\n"), r"unknown \['holiday'\]", id="misspelt-key"),
        pytest.param(_entry().replace("2027:", '"2027":', 1), "key '2027' is not a year", id="quoted-year"),
        pytest.param(_entry().replace("version: 1", "version: 2"), "version: expected 1, got 2", id="unknown-version"),
        pytest.param(_entry() + _entry().split("years:\n", 1)[1], "duplicate key 2027", id="year-twice"),
        pytest.param("- 2027\n", "expected a mapping", id="not-a-mapping"),
    ],
)
def test_invalid_overrides_are_rejected_naming_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(CalendarOverridesError, match=message) as raised:
        WorkingDayCalendar.load(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    ("decision", "due"),
    [
        # 10-01: the 7th day falls in the National Day holiday (10-01..10-07); the next working day is 10-08.
        pytest.param(date(2026, 9, 24), date(2026, 10, 8), id="7th-day-national-day-holiday"),
        pytest.param(date(2026, 9, 28), date(2026, 10, 8), id="7th-day-inside-the-holiday"),
        # 11-21 is a Saturday: a rest day ends the period on Monday 11-23.
        pytest.param(date(2026, 11, 14), date(2026, 11, 23), id="7th-day-saturday"),
        pytest.param(date(2026, 11, 2), date(2026, 11, 9), id="7th-day-working-day-unchanged"),
        # 10-10 is a make-up working Saturday (调休上班): a working day, so the period ends on it.
        pytest.param(date(2026, 10, 3), date(2026, 10, 10), id="7th-day-make-up-working-saturday"),
    ],
)
def test_reporting_clock_ending_on_a_day_off_extends_to_the_next_working_day(
    calendar: WorkingDayCalendar, decision: date, due: date
) -> None:
    assert calendar.reporting_deadline(decision, 7) == Deadline(due, provisional=False)


def test_decision_of_24_september_received_8_october_is_on_time(calendar: WorkingDayCalendar) -> None:
    deadline = calendar.reporting_deadline(date(2026, 9, 24), 7)
    assert not is_reported_late(deadline, datetime(2026, 10, 8, 18, 0, tzinfo=SHANGHAI))
    assert is_reported_late(deadline, datetime(2026, 10, 9, 9, 0, tzinfo=SHANGHAI))


@needs_2027_uncovered
def test_reporting_clock_ending_in_an_uncovered_year_is_provisional_and_never_late(
    calendar: WorkingDayCalendar,
) -> None:
    deadline = calendar.reporting_deadline(date(2026, 12, 26), 7)  # 2027-01-02, a Saturday
    assert deadline == Deadline(date(2027, 1, 4), provisional=True)
    assert not is_reported_late(deadline, datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI))


@pytest.mark.parametrize(
    ("received_at", "late"),
    [
        # 2026-11-09 23:59:59 in Shanghai: the last second of the 7th calendar day (a Monday).
        pytest.param(datetime(2026, 11, 9, 15, 59, 59, tzinfo=UTC), False, id="exactly-7-days-on-time"),
        pytest.param(datetime(2026, 11, 9, 16, 0, 0, tzinfo=UTC), True, id="7-days-plus-1-second-late"),
        pytest.param(datetime(2026, 11, 10, 0, 30, tzinfo=SHANGHAI), True, id="shanghai-input-next-day"),
        pytest.param(datetime(2026, 11, 2, 1, 0, tzinfo=UTC), False, id="same-day"),
    ],
)
def test_reporting_lateness_is_judged_in_shanghai_time(
    calendar: WorkingDayCalendar, received_at: datetime, late: bool
) -> None:
    assert is_reported_late(calendar.reporting_deadline(date(2026, 11, 2), 7), received_at) is late


def test_naive_received_time_is_refused(calendar: WorkingDayCalendar) -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        is_reported_late(calendar.reporting_deadline(date(2026, 9, 28), 7), datetime(2026, 10, 9, 12, 0))


def test_today_in_shanghai_crosses_midnight_before_utc() -> None:
    assert shanghai_date(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == date(2027, 1, 1)
    assert shanghai_date(datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC)) == date(2026, 12, 31)


# --- properties -------------------------------------------------------------------------------------

DAYS = st.dates(min_value=date(2002, 1, 1), max_value=date(LIBRARY_LAST_YEAR + 2, 12, 31))
COUNTS = st.integers(min_value=1, max_value=60)


@given(start=DAYS, n=COUNTS)
def test_add_working_days_is_strictly_increasing_in_n(calendar: WorkingDayCalendar, start: date, n: int) -> None:
    assert calendar.add_working_days(start, n).date < calendar.add_working_days(start, n + 1).date


@given(start=DAYS, n=COUNTS)
def test_result_is_a_counting_day(calendar: WorkingDayCalendar, start: date, n: int) -> None:
    deadline = calendar.add_working_days(start, n)
    working = calendar.is_working_day(deadline.date)
    if not deadline.provisional:
        assert working is True
    else:
        assert working is True or (working is None and deadline.date.weekday() < 5)


@given(start=DAYS, n=COUNTS)
def test_working_days_between_inverts_add_working_days(calendar: WorkingDayCalendar, start: date, n: int) -> None:
    deadline = calendar.add_working_days(start, n)
    between = calendar.working_days_between(start, deadline.date)
    if deadline.provisional:
        assert between is None
    else:
        assert between == n


@settings(max_examples=300)
@given(
    start=st.dates(min_value=date(2004, 1, 1), max_value=date(LIBRARY_LAST_YEAR, 10, 31)),
    n=st.integers(min_value=1, max_value=30),
)
def test_add_working_days_matches_counting_day_by_day_with_the_library(
    calendar: WorkingDayCalendar, start: date, n: int
) -> None:
    day, left = start, n
    while left:
        day += timedelta(days=1)
        left -= chinese_calendar.is_workday(day)
    assert calendar.add_working_days(start, n) == Deadline(day, provisional=False)


@given(first=DAYS, later_by=st.integers(min_value=0, max_value=400), n=COUNTS)
def test_a_later_start_never_gives_an_earlier_deadline(
    calendar: WorkingDayCalendar, first: date, later_by: int, n: int
) -> None:
    """A record decided later is never due earlier (monotonic in the start day, not only in n)."""
    later = first + timedelta(days=later_by)
    assert calendar.add_working_days(first, n).date <= calendar.add_working_days(later, n).date


@given(start=DAYS, n=COUNTS)
def test_deadline_is_provisional_exactly_when_a_counted_day_lies_beyond_coverage(
    calendar: WorkingDayCalendar, start: date, n: int
) -> None:
    """Provisional iff some day of (start, deadline] is in a year the calendar does not cover: a
    deadline wholly inside covered years is final, and one reaching past them never passes as final."""
    deadline = calendar.add_working_days(start, n)
    counted_years = range((start + timedelta(days=1)).year, deadline.date.year + 1)
    assert deadline.provisional == any(not calendar.covers(year) for year in counted_years)


@given(start=DAYS, a=COUNTS, b=COUNTS)
def test_counting_in_two_steps_gives_the_same_deadline(
    calendar: WorkingDayCalendar, start: date, a: int, b: int
) -> None:
    """n + m working days after a day = m working days after the n-th (the start day is never counted)."""
    whole = calendar.add_working_days(start, a + b)
    first = calendar.add_working_days(start, a)
    second = calendar.add_working_days(first.date, b)
    assert whole == Deadline(second.date, first.provisional or second.provisional)
