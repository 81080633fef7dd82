"""Ingest CPU per record, code trees alternated on one private stack (issue 19).

    .venv/bin/python -m bench.ab ROUNDS SECONDS CONNECTIONS NAME=TREE [NAME=TREE ...]

Starts one bench stack (Kafka, PostgreSQL), then in each round starts ingest from each tree in turn (a
checkout of the code to compare, e.g. `git worktree add /tmp/before <commit>` or `git archive <commit> | tar
-x -C /tmp/before`; the same .venv), warms it up, measures a closed-loop S1 run (the S1 workload: 5 %
invalid, 10 % duplicate retries) and stops it. Each line gives records/s and CPU µs per accepted record of
ingest, PostgreSQL and Kafka separately, the load generator, and the cores other work used meanwhile: on a
shared machine only alternated rounds compare. Ingest's idle CPU is printed before each run (fixed costs
weigh more per record at low rates).

Environment: `AB_RATE=<records/s>` an open loop at that rate instead (the same rate for every tree, so
group-commit batch sizes compare too); `AB_PROFILE=<name>` py-spy that tree's last run into
bench/results/ab-<name>.folded; `AB_PGSS=1` load pg_stat_statements and print each run's statements (calls,
total and mean execution time, rows) and commits.
"""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import deploy.stack
from bench.config import BenchConfig
from bench.cpu import CpuMeter
from bench.profile import RESULTS, _py_spy
from bench.runner import Bench, cpu_per_record, http_spec
from bench.stack import BenchStack
from bench.worker import run_worker

STATEMENTS = (
    "SELECT calls, round(total_exec_time::numeric, 1), round((total_exec_time / calls)::numeric * 1000, 1), rows, "
    "left(regexp_replace(query, '\\s+', ' ', 'g'), 100) FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15"
)
COMMITS = "SELECT xact_commit FROM pg_stat_database WHERE datname = 'exchange'"


def main(argv: list[str]) -> None:
    rounds, seconds, connections = int(argv[0]), float(argv[1]), int(argv[2])
    trees = dict(arg.split("=", 1) for arg in argv[3:])
    rate = float(os.environ.get("AB_RATE", "0") or 0)
    profiled = os.environ.get("AB_PROFILE", "")
    pgss = os.environ.get("AB_PGSS", "") not in ("", "0")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    stack = BenchStack()
    bench = Bench(BenchConfig.from_env(), stack)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in trees}
    try:
        stack.start_infra()
        if pgss:
            stack.superuser_sql("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            stack.stack.postgres.stop()
            stack.stack.postgres.start()
            stack.superuser_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", database="exchange")
        port = stack.port("ingest")
        for n in range(rounds):
            for name, tree in trees.items():
                deploy.stack.REPO_ROOT = Path(tree)  # the service process runs from this tree
                stack.start_services("ingest")
                pid = stack.service_pid("ingest")
                warm = http_spec(bench, mode="closed", connections=connections, tag=bench.tag("w"), cpu={}, port=port)
                run_worker({**warm, "workload": "single", "seconds": 2, "warmup": 1}, timeout=120)
                idle = CpuMeter({"ingest": [pid]})
                idle.start()
                time.sleep(4)
                print(f"idle ingest CPU {idle.stop()['ingest'] / 4 * 1000:.0f} ms/s", flush=True)
                spy = None
                if profiled == name and n == rounds - 1 and (py_spy := _py_spy()):
                    RESULTS.mkdir(exist_ok=True)
                    out = RESULTS / f"ab-{name}.folded"
                    spy = subprocess.Popen(
                        [py_spy, "record", "--pid", str(pid), "--subprocesses", "--duration", str(int(seconds)),
                         "--rate", "250", "--format", "raw", "--output", str(out)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                if pgss:
                    stack.superuser_sql("SELECT pg_stat_statements_reset()", database="exchange")
                    commits = int(stack.superuser_sql(COMMITS))
                mode = {"mode": "open", "rate": rate, "connections": 256} if rate else {"mode": "closed"}
                spec = http_spec(bench, connections=connections, tag=bench.tag("m"), port=port, **mode)
                spec |= {"cpu": bench.cpu_groups("ingest"), "workload": "single", "warmup": 1.0, "seconds": seconds}
                spec["prefill"] = int(3000 * (seconds + 2)) + 10
                res = run_worker(spec, timeout=300)
                if spy is not None:
                    spy.wait(timeout=60)
                accepted = res["accepted"] or res["records"]
                cpu = cpu_per_record(res["cpu_s"], accepted, ("ingest",))
                pg, kafka = (res["cpu_s"].get(k, 0.0) * 1e6 / accepted for k in ("postgres", "kafka"))
                others = res["cpu_s"].get("others", 0.0) / res["seconds"]
                results[name].append((res["records_per_s"], cpu["service"], cpu["infra"]))
                print(
                    f"round {n} {name:10s} {res['records_per_s']:6.0f} records/s  ingest {cpu['service']:5.0f}  "
                    f"PostgreSQL {pg:4.0f}  Kafka {kafka:4.0f}  load generator {cpu['loadgen']:4.0f} µs/record  "
                    f"others {others:.2f} cores",
                    flush=True,
                )
                if pgss:
                    print(stack.superuser_sql(STATEMENTS, database="exchange"), flush=True)
                    print(f"commits {int(stack.superuser_sql(COMMITS)) - commits} for {accepted} records", flush=True)
                stack.stop_services("ingest")
        for name, rows in results.items():
            rate_, ingest, infra = (statistics.median(r[i] for r in rows) for i in range(3))
            print(f"{name:10s} median: {rate_:6.0f} records/s, ingest {ingest:5.0f}, infra {infra:5.0f} µs/record")
    finally:
        stack.close()


if __name__ == "__main__":
    main(sys.argv[1:])
