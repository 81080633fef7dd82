"""What every scenario shares: the run's context (stack, settings, results), the table row, and the
HTTP measurement recipe (warm up while finding the best concurrency, then closed-loop repetitions for
the maximum and open-loop repetitions at a fraction of it for latency)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bench.config import BenchConfig
from bench.stack import BenchStack
from bench.stats import spread
from bench.worker import run_worker

INFRA = ("postgres", "kafka")


@dataclass
class Row:
    """One line of the table."""

    scenario: str
    figure: str  # what the numbers are ("records/s", "p99 ms at 70 % of max" …)
    values: list[float] = field(default_factory=list)  # one per repetition
    latency: dict[str, float] | None = None  # median p50 / p99 over repetitions (ms)
    baseline: str | None = None
    baseline_value: float | None = None
    cpu_us: dict[str, float] | None = None  # µs per accepted record: service, infra, loadgen
    others: float | None = None  # CPU cores the rest of the machine used meanwhile (other people's work)
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return spread(self.values)["median"]

    @property
    def ratio(self) -> float | None:
        if not self.baseline_value or not self.values:
            return None
        return self.median / self.baseline_value

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "spread": spread(self.values), "ratio": self.ratio}


@dataclass
class Bench:
    config: BenchConfig
    stack: BenchStack
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    ceilings: dict[str, float] = field(default_factory=dict)
    _seed: int = 0

    def seed(self) -> int:
        self._seed += 1
        return self._seed

    def tag(self, prefix: str) -> str:
        """A short tag unique in this run: record ids embed it, so no two workers' ids collide."""
        return f"{prefix}{self.seed():03d}{int(time.time()) % 10000:04d}"

    def cpu_groups(self, *services: str) -> dict[str, list[int]]:
        groups = {svc: [self.stack.service_pid(svc)] for svc in services}
        return {**groups, **self.stack.infra_pids()}

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(f"    {row.scenario}: {row.figure} median {row.median:,.1f}" + (f" ({row.note})" if row.note else ""))
        return row


def cpu_per_record(cpu_s: dict[str, float], records: int, services: tuple[str, ...]) -> dict[str, float]:
    """µs of CPU per record: the service processes together, PostgreSQL + Kafka, the load generator."""
    if records <= 0:
        return {}
    per = {name: seconds * 1e6 / records for name, seconds in cpu_s.items()}
    return {
        "service": sum(per.get(s, 0.0) for s in services),
        "infra": sum(per.get(s, 0.0) for s in INFRA),
        "loadgen": per.get("loadgen", 0.0),
        **{f"svc:{s}": per.get(s, 0.0) for s in services},
    }


def others_cores(runs: list[dict[str, Any]]) -> float:
    """Median CPU cores used by processes outside the bench while the runs were measured."""
    values = [
        r["others_cores"] if "others_cores" in r else r["cpu_s"].get("others", float("nan")) / r["seconds"]
        for r in runs
        if r.get("seconds")
    ]
    return spread(values)["median"]


def median_cpu(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = {k for run in runs for k in run}
    return {k: spread([run.get(k, float("nan")) for run in runs])["median"] for k in sorted(keys)}


def http_spec(bench: Bench, **spec: Any) -> dict[str, Any]:
    c = bench.config
    base = {"kind": "http", "tokens": bench.stack.tokens, "warmup": c.warmup_seconds, "seconds": c.seconds}
    return {**base, "seed": bench.seed(), **spec}


def find_max(
    bench: Bench,
    name: str,
    *,
    services: tuple[str, ...],
    levels: tuple[int, ...],
    records_per_job: int = 1,
    pids: dict[str, list[int]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """Warm up at each concurrency level, then repeat closed-loop runs at the best one."""
    c = bench.config
    tried = {}
    for level in levels:
        r = run_worker(
            http_spec(
                bench, mode="closed", connections=level, tag=bench.tag("w"), cpu={}, **spec, seconds=c.warmup_seconds
            ),
            timeout=120,
        )
        tried[level] = r["records_per_s"]
    best = max(tried, key=lambda k: tried[k])
    runs = []
    for _ in range(c.repetitions):
        prefill = int(max(tried[best], 100) * (c.warmup_seconds + c.seconds) * 1.5 / records_per_job) + 10
        r = run_worker(
            http_spec(
                bench,
                mode="closed",
                connections=best,
                tag=bench.tag("m"),
                cpu=pids or bench.cpu_groups(*services),
                prefill=prefill,
                **spec,
            ),
            timeout=300,
        )
        r["others_cores"] = r["cpu_s"].get("others", float("nan")) / r["seconds"]
        r["cpu_us"] = cpu_per_record(r.pop("cpu_s"), r["accepted"] or r["records"], services)
        runs.append(r)
    bench.raw[f"{name}/max"] = {"levels": tried, "connections": best, "runs": runs}
    return {"connections": best, "runs": runs}


def open_latency(
    bench: Bench, name: str, *, rate: float, services: tuple[str, ...], records_per_job: int = 1, **spec: Any
) -> list[dict[str, Any]]:
    """Open-loop repetitions at `rate` requests/s; latency from each request's scheduled time."""
    c = bench.config
    runs = []
    for _ in range(c.repetitions):
        prefill = int(rate * (c.warmup_seconds + c.seconds)) + 10
        r = run_worker(
            http_spec(
                bench,
                mode="open",
                rate=rate,
                connections=256,
                tag=bench.tag("o"),
                cpu=bench.cpu_groups(*services),
                prefill=prefill,
                **spec,
            ),
            timeout=300,
        )
        r["others_cores"] = r["cpu_s"].get("others", float("nan")) / r["seconds"]
        r["cpu_us"] = cpu_per_record(r.pop("cpu_s"), r["accepted"] or r["records"], services)
        runs.append(r)
    bench.raw[f"{name}/open"] = {"rate": rate, "runs": runs}
    return runs
