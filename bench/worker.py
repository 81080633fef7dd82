"""Measurements run in a child process of their own (`python -m bench.worker`, a JSON spec on stdin, a
JSON result on stdout), so the load generator's CPU is its own process's and never mixes with the
orchestrator's, and each measurement gets a fresh uvloop event loop.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from bench.cpu import CpuMeter


async def http(spec: dict[str, Any]) -> dict[str, Any]:
    """One closed- or open-loop run against one port; CPU measured over exactly the counted window."""
    from bench.load import Source, closed_loop, open_loop
    from bench.records import RecordMix
    from bench.workloads import BatchSource, IngestSource, Limited, PageSource, Prefilled, QuerySource

    host = f"127.0.0.1:{spec['port']}"
    bare = spec.get("bare", False)
    workload = spec["workload"]
    source: Source
    if workload == "single":
        source = IngestSource(RecordMix(seed=spec["seed"], tag=spec["tag"]), spec["tokens"], host, bare=bare)
    elif workload == "batch":
        source = BatchSource(
            spec["seed"], spec["tag"], spec["tokens"], host, spec["batch"], bare=bare, clean=spec.get("clean", False)
        )
    elif workload == "page":
        source = PageSource(list(spec["terms"]), host, seed=spec["seed"])
    else:
        source = QuerySource(list(spec["terms"]), host, seed=spec["seed"], bare=bare)
    if spec.get("limit"):
        source = Limited(source, spec["limit"])
    if spec.get("prefill"):
        source = Prefilled(source, spec["prefill"])
    loop = asyncio.get_running_loop()
    meter = CpuMeter(spec["cpu"])
    cpu: dict[str, float] = {}

    def begin() -> None:
        meter.start()

    def finish() -> None:
        cpu.update(meter.stop())

    warmup, seconds = spec["warmup"], spec["seconds"]
    if spec["mode"] == "closed":
        loop.call_later(warmup, begin)
        loop.call_later(warmup + seconds, finish)
        tally, start, end = await closed_loop(
            "127.0.0.1", spec["port"], source, connections=spec["connections"], warmup=warmup, seconds=seconds
        )
        seconds = min(end, time.perf_counter()) - start  # a limited load may end before the window does
    else:
        loop.call_later(0.05 + warmup, begin)
        loop.call_later(0.05 + warmup + seconds, finish)
        tally, _, _ = await open_loop(
            "127.0.0.1",
            spec["port"],
            source,
            rate=spec["rate"],
            seconds=seconds,
            warmup=warmup,
            connections=spec["connections"],
            keep_body=workload == "batch",
        )
    return {**tally.summary(seconds), "cpu_s": cpu}


async def dispatch(spec: dict[str, Any]) -> dict[str, Any]:
    kind = spec["kind"]
    if kind == "http":
        return await http(spec)
    if kind == "kafka-produce":
        from bench.baselines import kafka_produce

        return await kafka_produce(spec)
    if kind == "db-insert":
        from bench.baselines import db_insert

        return await db_insert(spec)
    if kind == "consume-bare":
        from bench.baselines import consume_bare

        return await consume_bare(spec)
    if kind == "replay":
        from bench.replay import replay

        return await replay(spec)
    if kind == "audit-replay":
        from bench.replay import audit_replay

        return await audit_replay(spec)
    if kind == "heavy-phase":
        from bench.heavy import phase

        return await phase(spec)
    if kind == "pipeline":
        from bench.pipeline import pipeline

        return await pipeline(spec)
    raise ValueError(f"unknown worker kind {kind!r}")


def run_worker(spec: dict[str, Any], *, timeout: float) -> dict[str, Any]:
    """Run one measurement in a child process and return its result (raises with its stderr on failure)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.worker"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        raise RuntimeError(f"{spec['kind']} worker failed (exit {proc.returncode}): {tail[-800:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main() -> None:
    from bench.load import install_uvloop

    spec = json.loads(sys.stdin.read())
    install_uvloop()
    result = asyncio.run(dispatch(spec))
    sys.stdout.write(json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main()
