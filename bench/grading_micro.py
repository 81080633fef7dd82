"""In-process: CPU per grading of one event (`regradings`, as the consumer calls it) of a subject with
`--records` penalties against a new subject's, records as S8 sends them (three departments, decided over
the 5 days before today, S8's categories and fines). Issue 18: the work per event should not grow with
the subject's history. Alternated in one process, so a busy machine slows both alike.

Beside the rules, the consumer's own work on the stored grade around them, in-process (PostgreSQL's side not
counted): "read back" is the way it was (the stored row's explanation decoded, as asyncpg's jsonb codec does
with orjson, compared with the new grade, encoded again to be written), "digest" the way it is
(`store.grade_write` and `store.unchanged`: the new explanation encoded and hashed, compared by digest).

    .venv/bin/python -m bench.grading_micro [--records 300] [--events 30] [--rounds 2]
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

from bench.records import CATEGORIES, DEPARTMENTS
from services.common.clock import FixedClock
from services.common.records import AcceptedRecord, record_from_row
from services.grading import store
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


@dataclass
class Spent:
    """CPU ms: the rules, and the consumer's work on the stored grade the old way and the new way."""

    rules: float = 0.0
    read_back: float = 0.0
    digest: float = 0.0
    stored: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)
    """Per subject: the stored explanation's JSON and its digest."""

    def __iadd__(self, other: Spent) -> Spent:
        self.rules += other.rules
        self.read_back += other.read_back
        self.digest += other.digest
        return self


def _grade(
    ctx: GradingContext, code: str, records: list[AcceptedRecord], last: dict[str, StoredGrade | None], spent: Spent
) -> Spent:
    """CPU ms of one event's grading (the kept state extended as the consumer extends it)."""
    started = time.process_time()
    current = last.get(code)
    steps = regradings(ctx, code, ctx.kept.of(code, records), TODAY, current, including_today=True)
    done = Spent(rules=(time.process_time() - started) * 1000)
    new = _last_grade(steps, current)
    last[code] = new
    if new is None or new is current:
        return done
    stored_json, stored_digest = spent.stored.get(code, (b"", b""))
    started = time.process_time()
    before = replace(current, explanation=orjson.loads(stored_json)) if current is not None else None
    if new != before:
        orjson.dumps(new.explanation).decode()
    done.read_back = (time.process_time() - started) * 1000
    started = time.process_time()
    head = store.StoredHead(replace(current, explanation=[]), stored_digest) if current is not None else None
    write = store.grade_write("name", new)
    store.unchanged(write, head)
    done.digest = (time.process_time() - started) * 1000
    spent.stored[code] = (write.explanation.encode(), write.digest)
    return done


def measure(records: int, events: int, seed: int) -> tuple[Spent, Spent]:
    """(ms spent over the heavy subject's events, over the new subjects' events)."""
    rng = random.Random(seed)
    ctx = _context()
    code = factories.uscc("91")
    received = [_record(rng, code, n) for n in range(records)]
    last: dict[str, StoredGrade | None] = {}
    state = Spent()
    for n in range(1, records + 1):  # graded event by event, as live grading did
        _grade(ctx, code, received[:n], last, state)
    heavy = Spent()
    for n in range(events):
        received = [*received, _record(rng, code, records + n)]
        heavy += _grade(ctx, code, received, last, state)
    new = Spent()
    for n in range(events):
        fresh = factories.uscc("91")
        new += _grade(ctx, fresh, [_record(rng, fresh, n)], last, state)
    return heavy, new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    n = args.events
    for round_ in range(args.rounds):
        heavy, new = measure(args.records, n, seed=round_)
        print(
            f"{args.records}-record subject {heavy.rules / n:.3f} ms/event, new subject {new.rules / n:.3f} ms/event "
            f"({heavy.rules / new.rules:.1f} x); beside them, the stored grade read back "
            f"{heavy.read_back / n:.3f} / {new.read_back / n:.3f} ms, by digest {heavy.digest / n:.3f} / "
            f"{new.digest / n:.3f} ms"
        )


if __name__ == "__main__":
    main()
