"""In-process: CPU per grading of one event (`regradings`, as the consumer calls it) of a subject with
`--records` penalties against a new subject's, records as S8 sends them (three departments, decided over
the 5 days before today, S8's categories and fines). Issue 18: the work per event should not grow with
the subject's history. Alternated in one process, so a busy machine slows both alike.

    .venv/bin/python -m bench.grading_micro [--records 300] [--events 30] [--rounds 2]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.records import CATEGORIES, DEPARTMENTS
from services.common.clock import FixedClock
from services.common.records import AcceptedRecord, record_from_row
from services.grading.handlers import GradingContext, _last_grade, regradings
from services.grading.rules import load_jurisdiction, load_rule_sets
from services.grading.rules.grades import StoredGrade
from tests import factories

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
TODAY = date(2026, 12, 7)


def _context() -> GradingContext:
    rule_sets = load_rule_sets(SCHEMAS)
    return GradingContext(
        rule_sets=rule_sets,
        jurisdiction=load_jurisdiction(SCHEMAS / "jurisdiction.yaml", rule_sets),
        clock=FixedClock(datetime(2026, 12, 7, 4, tzinfo=UTC)),
        outcomes_topic="outcomes",
        audit_topic="audit",
    )


def _record(rng: random.Random, code: str, n: int) -> AcceptedRecord:
    department = rng.choice(DEPARTMENTS)
    body = factories.penalty(
        code=code,
        categories=rng.choice(CATEGORIES),
        fine=round(rng.uniform(0.1, 50), 2),
        decision_date=(TODAY - timedelta(days=rng.randint(1, 5))).isoformat(),
        department=department,
    )
    receipt = {"department": department, "record_id": body["id"], "received_at": f"{TODAY}T09:00:{n % 60:02d}+08:00"}
    return record_from_row(body, receipt)


def _grade(ctx: GradingContext, code: str, records: list[AcceptedRecord], last: dict[str, StoredGrade | None]) -> float:
    """CPU ms of one event's grading (the kept state extended as the consumer extends it)."""
    started = time.process_time()
    current = last.get(code)
    steps = regradings(ctx, code, ctx.kept.of(code, records), TODAY, current, including_today=True)
    elapsed = time.process_time() - started
    last[code] = _last_grade(steps, current)
    return elapsed * 1000


def measure(records: int, events: int, seed: int) -> tuple[float, float]:
    """(ms per event of the heavy subject, ms per event of a new subject)."""
    rng = random.Random(seed)
    ctx = _context()
    code = factories.uscc("91")
    received = [_record(rng, code, n) for n in range(records)]
    last: dict[str, StoredGrade | None] = {}
    for n in range(1, records + 1):  # graded event by event, as live grading did
        _grade(ctx, code, received[:n], last)
    heavy = 0.0
    for n in range(events):
        received = [*received, _record(rng, code, records + n)]
        heavy += _grade(ctx, code, received, last)
    new = 0.0
    for n in range(events):
        fresh = factories.uscc("91")
        new += _grade(ctx, fresh, [_record(rng, fresh, n)], last)
    return heavy / events, new / events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for round_ in range(args.rounds):
        heavy, new = measure(args.records, args.events, seed=round_)
        print(
            f"{args.records}-record subject {heavy:.3f} ms/event, new subject {new:.3f} ms/event ({heavy / new:.1f} x)"
        )


if __name__ == "__main__":
    main()
