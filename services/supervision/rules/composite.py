"""公共信用综合评价 (003 L59; 001 L616): the county's composite evaluation of a subject from its records, pure.

The table (schemas/rulesets/supervision/county-composite.yaml) gives a base score, the points of each kind
of record while it is in force (its decision date for `window_years`, or until a record that ends it), and
bands. `timeline` gives the whole history as dated segments, each with its score, band and the items that
made it: the stored result is a function of the log alone, and a reader picks the segment of its day
(replay == live). No clock, no I/O except `load_composite`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common.amendments import effective_records
from services.common.legal_document import lacks_legal_document
from services.common.records import AcceptedRecord
from services.common.severity import Severity, SeverityTable, listed_document_numbers, severity_of
from services.common.yaml_files import read_yaml
from services.grading.rules.credit_file import years_after

PENALTY = "administrative_penalty"


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Closed):
    band: str
    min: int = Field(ge=0, le=100)


class Item(_Closed):
    label: str
    record_type: str
    match: dict[str, str] = Field(default_factory=dict)
    """Fields of the record's data that must have these values."""
    ends: dict[str, str] | None = None
    """A later record of the same type with these values ends the item (a 移出)."""
    severity: Severity | None = None
    """For administrative_penalty: the tier of the shared severity table."""
    points: int


class CompositeTable(_Closed):
    kind: Literal["composite_evaluation"]
    id: str
    version: str
    department: str
    title: str
    base: int = Field(ge=0, le=100)
    window_years: int = Field(gt=0)
    bands: list[Band] = Field(min_length=1)
    items: list[Item]

    @model_validator(mode="after")
    def _bands(self) -> CompositeTable:
        floors = [b.min for b in self.bands]
        if floors != sorted(floors, reverse=True) or floors[-1] != 0:
            raise ValueError("bands go from the highest `min` down to a band with min 0")
        for item in self.items:
            if (item.severity is not None) != (item.record_type == PENALTY):
                raise ValueError(f"{item.label}: a severity is given for penalties, and only for them")
        return self

    def band_of(self, score: int) -> str:
        return next(b.band for b in self.bands if score >= b.min)


@dataclass(frozen=True, slots=True)
class Counted:
    record_id: str
    label: str
    points: int
    start: date
    end: date
    """The last day it counts."""


@dataclass(frozen=True, slots=True)
class Segment:
    valid_from: date
    valid_until: date | None
    """Inclusive; None: until a new record changes it."""
    score: int
    band: str
    items: tuple[Counted, ...]


def load_composite(path: Path) -> CompositeTable:
    """Raises ValueError (pydantic's ValidationError is one) on any problem of the file."""
    return CompositeTable.model_validate(read_yaml(path))


def _matches(data: dict[str, object], wanted: dict[str, str]) -> bool:
    return all(str(data.get(k)) == v for k, v in wanted.items())


def counted(records: Sequence[AcceptedRecord], table: CompositeTable, severity: SeverityTable) -> list[Counted]:
    """Every item a record gives, with the days it counts (corrections applied, undocumented adverse left out)."""
    kept = sorted((e.record for e in effective_records(records)), key=lambda r: (r.decision_date, r.record_id))
    listed = listed_document_numbers(kept)
    out: list[Counted] = []
    for r in kept:
        if lacks_legal_document(r.record_type, r.data):
            continue
        tier = severity_of(r, severity, listed_documents=listed).severity if r.record_type == PENALTY else None
        for item in table.items:
            if item.record_type != r.record_type or not _matches(r.data, item.match):
                continue
            if item.severity is not None and item.severity is not tier:
                continue
            end = years_after(r.decision_date, table.window_years) - timedelta(days=1)
            if item.ends is not None:
                ends = item.ends
                exits = [x.decision_date for x in kept if x.record_type == r.record_type and _matches(x.data, ends)]
                exit_day = min((d for d in exits if d >= r.decision_date), default=None)
                if exit_day is not None:
                    end = min(end, exit_day - timedelta(days=1))
            if end >= r.decision_date:
                out.append(Counted(r.record_id, item.label, item.points, r.decision_date, end))
    return out


def timeline(records: Sequence[AcceptedRecord], table: CompositeTable, severity: SeverityTable) -> list[Segment]:
    """The evaluation from the subject's first record on, as segments of equal score and items."""
    if not records:
        return []
    items = counted(records, table, severity)
    first = min(r.decision_date for r in records)
    changes = sorted({first, *(i.start for i in items), *(i.end + timedelta(days=1) for i in items)})
    changes = [d for d in changes if d >= first]
    segments: list[Segment] = []
    for n, day in enumerate(changes):
        until = changes[n + 1] - timedelta(days=1) if n + 1 < len(changes) else None
        active = tuple(i for i in items if i.start <= day <= i.end)
        score = max(0, min(100, table.base + sum(i.points for i in active)))
        segments.append(Segment(day, until, score, table.band_of(score), active))
    return segments


def on(segments: Sequence[Segment], day: date) -> Segment | None:
    """The segment in force on `day`."""
    return next((s for s in segments if s.valid_from <= day and (s.valid_until is None or day <= s.valid_until)), None)
