"""The department scorecard (部门信用信息工作考核, 000 L121: timeliness, completeness and accuracy are
assessment indicators): each service counts, per department and calendar month (Asia/Shanghai), what its
own tables know; ``exchange scorecard`` puts the parts side by side for the county.

- ingest: records accepted, reported late (more than 7 calendar days after the decision), rejected by error;
- sanctions: instructions of cases opened in the month, and how completely the departments fed back;
- publish: disclosure deadlines falling in the month (met, late, overdue), objection answers and repair
  decisions due in the month (on time, late, still missing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from services.common.clock import SHANGHAI
from services.common.errors import ApiError
from services.common.http import ApiProblem

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


@dataclass(frozen=True, slots=True)
class Month:
    first: date
    after: date
    """The first day of the next month."""

    @property
    def label(self) -> str:
        return f"{self.first:%Y-%m}"

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), SHANGHAI)

    @property
    def end(self) -> datetime:
        """The first instant of the next month (exclusive)."""
        return datetime.combine(self.after, time(), SHANGHAI)


def month_of(value: str) -> Month:
    """``2026-11`` → November 2026; a 422 naming the expected form otherwise."""
    match = _MONTH.fullmatch(value)
    if match is None:
        message = f"month must be YYYY-MM, e.g. 2026-11 (考核月份格式为 YYYY-MM), got {value!r}"
        raise ApiProblem(422, [ApiError("/query/month", "invalid", message)])
    year, month = int(match.group(1)), int(match.group(2))
    first = date(year, month, 1)
    return Month(first, date(year + month // 12, month % 12 + 1, 1))


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to four places; None when there is nothing to measure."""
    return round(part / whole, 4) if whole else None
