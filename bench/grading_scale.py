"""In-process: grading of heavy subjects at S8's scale, where their records exceed what grading keeps.

`--subjects` subjects get `--records` S8-shaped penalties each (graded once per subject, as a drained
load leaves them); then `--events` new records go to the heavy subjects in turn (S8 sends them so: every
heavy subject is touched before any is touched again) and as many to brand-new subjects. The files kept
parsed are simulated as `SubjectFiles` keeps them (the same bound in records, least recently used dropped;
a file not kept is parsed again from its rows' JSON, as a read from the table gives it); the derived state
is the service's own `GradingContext.kept`. Prints CPU per event of each phase, the resident size and,
with `--trace`, the traced Python memory after the load and at the end (issue 18: per-event cost of a
heavy subject ≤ 1.5 × a new one's; resident size ≤ 300 MB and flat).

`--path state` (the default) grades as the consumer does now: a subject of at least
`handlers.STATE_MIN_RECORDS` records from its kept state (`rules.subject_state`, kept here encoded as the
table keeps it), decoded, extended with the new record, encoded again; `--path files` from its records (the
files kept parsed and `KeptSubjects`), as before. The CPU per event counts, beside the rules, the work the
consumer does in-process around them (the state decoded/extended/encoded, or the file's rows parsed, and
the grade's explanation encoded with its digest, `store.grade_write`); PostgreSQL's side is not counted.
The split of a heavy event's cost is printed per step.

    .venv/bin/python -m bench.grading_scale [--subjects 200] [--records 300] [--events 600] [--trace] [--bound N]
        [--path state|files]

`GRADING_SCALE_GC=a,b,c` sets the collector's thresholds for the heavy and new phases (`gc.set_threshold`):
what the full collections over the kept state cost (docs/decisions.md, issue 18 — grading at S8's scale).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
import tracemalloc
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import orjson

from bench.grading_micro import TODAY, _context, _record
from services.common.records import AcceptedRecord, SubjectFiles, record_from_row
from services.grading import store
from services.grading.handlers import STATE_MIN_RECORDS, GradingContext, _last_grade, regradings
from services.grading.rules.grades import StoredGrade
from services.grading.rules.subject_state import SubjectState, decode, encode, extended, state_of
from tests import factories


class _Files:
    """`SubjectFiles`' bound and eviction over rows kept as JSON (the table)."""

    def __init__(self, bound: SubjectFiles) -> None:
        self.max_records, self.min_records = bound.max_records, bound.min_records
        self.rows: dict[str, list[str]] = {}
        self.kept: OrderedDict[str, list[AcceptedRecord]] = OrderedDict()
        self.size = 0
        self.misses = 0

    def add(self, record: AcceptedRecord) -> None:
        # As text: orjson's bytes keep their whole output buffer (~8 KB each, traced), a table's rows do not.
        row = orjson.dumps([record.record, record.receipt]).decode()
        self.rows.setdefault(record.subject_code, []).append(row)

    def read(self, code: str, received: AcceptedRecord | None) -> list[AcceptedRecord]:
        """The file as the next event's read gives it (with `received` appended, the event's own object)."""
        old = self.kept.pop(code, None)
        rows = self.rows.get(code, [])
        if old is not None:
            self.size -= len(old)
            records = [*old, *(_parsed(row) for row in rows[len(old) : len(rows) - (received is not None)])]
        else:
            self.misses += 1
            records = [_parsed(row) for row in rows[: len(rows) - (received is not None)]]
        if len(records) >= self.min_records:
            # What the next read keeps: the records as read back (a consumed record is an equal copy then).
            self.kept[code] = records
            self.size += len(records)
            while self.size > self.max_records and self.kept:
                _, dropped = self.kept.popitem(last=False)
                self.size -= len(dropped)
        return [*records, received] if received is not None else records


def _rss_mb() -> float:
    """This process's resident MB now (VmRSS)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


class _Steps:
    """CPU seconds per step of the events of a phase."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.sizes: list[tuple[int, int]] = []
        """(state bytes, explanation bytes) written per event."""
        self._at = 0.0

    def start(self) -> None:
        self._at = time.process_time()

    def lap(self, step: str) -> None:
        now = time.process_time()
        self.spent[step] = self.spent.get(step, 0.0) + now - self._at
        self._at = now

    def total_ms(self) -> float:
        return sum(self.spent.values()) * 1000

    def split(self, events: int) -> str:
        return ", ".join(f"{step} {spent * 1000 / events:.2f}" for step, spent in self.spent.items())


def _grade(
    ctx: GradingContext,
    code: str,
    read: Callable[[], list[AcceptedRecord]],
    received: AcceptedRecord | None,
    last: dict[str, StoredGrade | None],
    states: dict[str, bytes] | None,
    steps: _Steps,
) -> None:
    """One event's grading as the consumer does it in-process (`states` None: from the records only)."""
    steps.start()
    current = last.get(code)
    records: Sequence[AcceptedRecord] | None = None
    kept = states.get(code) if states is not None else None
    if kept is not None:
        state = decode(kept)
        steps.lap("decode state")
        records = state if received is None or state is None else extended(state, [received])
        steps.lap("extend state")
    if records is None:
        files = read()
        steps.lap("read rows")
        records = ctx.kept.of(code, files)
        steps.lap("derive records")
    done = regradings(ctx, code, records, TODAY, current, including_today=True)
    steps.lap("rules")
    grade = _last_grade(done, current)
    written = store.grade_write(done[-1].subject.name, grade) if grade is not None else None
    # Kept without its explanation, as the consumer reads a stored grade back (`store.load_heads`).
    last[code] = None if grade is None else replace(grade, explanation=[])
    steps.lap("grade JSON + digest")
    if states is not None and len(records) >= STATE_MIN_RECORDS:
        state = records if isinstance(records, SubjectState) else state_of(records)
        if state is not None:
            states[code] = encode(state)
            steps.lap("encode state")
            steps.sizes.append((len(states[code]), len(written.explanation) if written is not None else 0))


def _parsed(row: str) -> AcceptedRecord:
    record, receipt = orjson.loads(row)
    return record_from_row(record, receipt)


def run(subjects: int, records: int, events: int, seed: int, trace: bool, bound: int | None, path: str) -> None:
    rng = random.Random(seed)
    ctx: GradingContext = _context()
    if bound is not None:
        ctx.files.max_records = ctx.kept.max_records = bound
    files = _Files(ctx.files)
    states: dict[str, bytes] | None = {} if path == "state" else None
    last: dict[str, StoredGrade | None] = {}
    codes = [factories.uscc("91") for _ in range(subjects)]
    if trace:
        tracemalloc.start()
    started = time.process_time()
    for code in codes:
        for n in range(records):
            files.add(_record(rng, code, n))
        _grade(ctx, code, lambda code=code: files.read(code, None), None, last, states, _Steps())  # type: ignore[misc]
    load_s = time.process_time() - started
    gc.collect()
    traced_load = tracemalloc.get_traced_memory()[0] / 2**20 if trace else 0.0
    rss_load = _rss_mb()
    files.misses = 0
    if threshold := os.environ.get("GRADING_SCALE_GC"):
        gc.set_threshold(*map(int, threshold.split(",")))
    heavy = _Steps()
    for n in range(events):
        code = codes[n % subjects]
        record = _record(rng, code, records + n)
        files.add(record)
        _grade(ctx, code, lambda c=code, r=record: files.read(c, r), record, last, states, heavy)  # type: ignore[misc]
    misses = files.misses
    new = _Steps()
    for n in range(events):
        fresh = factories.uscc("91")
        record = _record(rng, fresh, n)
        files.add(record)
        _grade(ctx, fresh, lambda c=fresh, r=record: files.read(c, r), record, last, states, new)  # type: ignore[misc]
    gc.collect()
    traced_end = tracemalloc.get_traced_memory()[0] / 2**20 if trace else 0.0
    heavy_ms, new_ms = heavy.total_ms() / events, new.total_ms() / events
    sizes = heavy.sizes or [(0, 0)]
    print(
        f"path {path}: {subjects} x {records} records (load {load_s:.0f} s CPU): heavy {heavy_ms:.3f} ms/event "
        f"(files re-read {misses}/{events}), new {new_ms:.3f} ms/event ({heavy_ms / new_ms:.1f} x); "
        f"kept {ctx.kept.size} records of {len(ctx.kept)} subjects; resident {rss_load:.0f} -> {_rss_mb():.0f} MB"
        + (f"; traced {traced_load:.0f} -> {traced_end:.0f} MB" if trace else "")
    )
    print(f"  heavy event, ms: {heavy.split(events)}")
    print(f"  new subject's event, ms: {new.split(events)}")
    print(
        f"  written per heavy event: state {sum(s for s, _ in sizes) / len(sizes) / 1024:.0f} KB, "
        f"explanation {sum(e for _, e in sizes) / len(sizes) / 1024:.0f} KB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=200)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--events", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--bound", type=int, help="records kept (SubjectFiles and KeptSubjects), else theirs")
    parser.add_argument("--path", choices=("state", "files"), default="state")
    args = parser.parse_args()
    run(args.subjects, args.records, args.events, args.seed, args.trace, args.bound, args.path)


if __name__ == "__main__":
    main()
