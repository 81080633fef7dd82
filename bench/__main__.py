"""`python -m bench` (what `make bench` runs): start a private stack, measure the baselines and the
scenarios, print one table, keep the JSON, stop everything. Exits 0 when the run completes, whether or
not the targets are met (the table says which); a scenario that fails is a row saying why."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

from bench.config import BenchConfig
from bench.consumers import s2, s3, s3b
from bench.heavy import s8
from bench.report import environment, print_report, write_json
from bench.reports import s5 as reports_s6
from bench.runner import Bench, Row
from bench.scenarios import db_baseline, http_baseline, kafka_baseline, s1, s1b, s4, s4b
from bench.stack import BenchStack
from bench.webhooks import s5 as webhooks_s5
from bench.workbench import s5 as workbench_s7

STEPS: list[tuple[str, str, Callable[[Bench], None]]] = [
    ("baselines", "HTTP baseline (bare FastAPI)", http_baseline),
    ("baselines", "Kafka baseline (bare producer)", kafka_baseline),
    ("baselines", "database baseline (asyncpg inserts)", db_baseline),
    ("S1", "S1 ingest, single-record POSTs", s1),
    ("S1b", "S1b ingest, records:batch of 500", s1b),
    ("S3", "S3 replay (and the bare consumer baseline)", s3),
    ("S3b", "S3b audit replay of grading, sanctions and publish", s3b),
    ("S2", "S2 full pipeline", s2),
    ("S8", "S8 heavy subjects: cost per event against a new subject's", s8),
    ("S4", "S4 public queries", s4),
    ("S4b", "S4b portal HTML pages", s4b),
    ("S6", "S6 credit reports and batch checks", reports_s6),
    ("S7", "S7 workbench: a 10,000-row sheet imported end to end", workbench_s7),
    ("S5", "S5 webhook deliveries (bridge)", webhooks_s5),
]


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    config = BenchConfig.from_env()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # broker probes while Kafka starts are expected
    signal.signal(signal.SIGTERM, _stop)
    stack = BenchStack()
    bench = Bench(config, stack)
    bench.raw["started"] = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    bench.raw["load_average_start"] = os.getloadavg()
    print(f"==> bench: private stack in {stack.state_dir.relative_to(stack.state_dir.parents[2])}", flush=True)
    started = time.monotonic()
    try:
        stack.start_infra()
        stack.start_services("ingest")
        env = environment(bench)
        for key, title, step in STEPS:
            if not config.wants(key):
                continue
            print(f"==> {title}", flush=True)
            t = time.monotonic()
            try:
                step(bench)
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                bench.add(Row(title, "-", note=f"failed: {type(exc).__name__}: {str(exc)[:400]}"))
            print(f"    ({time.monotonic() - t:.0f} s)", flush=True)
        bench.raw["load_average_end"] = os.getloadavg()
        bench.raw["wall_seconds"] = time.monotonic() - started
        print_report(bench, env)
        path = write_json(bench, env)
        print(f"\nJSON: {path.relative_to(path.parents[2])}  (load average at start / end: "
              f"{bench.raw['load_average_start'][0]:.1f} / {bench.raw['load_average_end'][0]:.1f}; other work on this "
              "machine lowers every figure)")  # fmt: skip
    except KeyboardInterrupt:
        print("\nbench interrupted; stopping the stack", file=sys.stderr)
        return 130
    finally:
        print("==> stopping the bench stack", flush=True)
        stack.close(keep_files=os.environ.get("BENCH_KEEP", "") not in ("", "0"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
