"""S8 heavy subjects (issue 18 calls it "S5 (new)"; S5 is the webhook scenario): does the work per event
grow with a subject's history?

`BENCH_S8_SUBJECTS` subjects (2,000; quick 200) get `BENCH_S8_RECORDS` records each (300) through
`POST /v1/records:batch`, with grading, sanctions and publish running; once they have drained, each
repetition sends `BENCH_S8_EVENTS` new records for brand-new subjects, then as many for the heavy subjects,
each phase until every consumer has committed it. The figure per consumer is its CPU µs per record in the
heavy phase over the same in the new-subject phase of the same repetition (target ≤ 1.5). A record's grade
event (which sanctions consumes too) is part of that record's cost. Each service's resident memory is read
after the load has drained and at the end.
"""

from __future__ import annotations

import random
import time
from typing import Any

from bench.cpu import CpuMeter
from bench.kafkatools import LagProbe
from bench.load import closed_loop
from bench.memory import rss_mb
from bench.records import new_subject
from bench.runner import Bench, Row
from bench.scenarios import TARGETS
from bench.stats import spread
from bench.worker import run_worker

CONSUMERS = ("grading", "sanctions", "publish")
BATCH = 100
IDLE_SECONDS = 10.0


def idle_cores(pids: dict[str, list[int]], seconds: float) -> dict[str, float]:
    """CPU cores each consumer uses with nothing to consume (measured here: it only reads /proc)."""
    meter = CpuMeter(pids)
    meter.start()
    time.sleep(seconds)
    return {name: used / seconds for name, used in meter.stop().items() if name in pids}


def heavy_subjects(seed: int, n: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    seen: dict[str, tuple[str, str, str]] = {}
    while len(seen) < n:
        subject = new_subject(rng)
        seen.setdefault(subject[1], subject)
    return list(seen.values())


async def drain(lag: LagProbe, limit: float) -> float | None:
    """Seconds until no consumer group has lag on any topic it reads (None: not within `limit`)."""
    import asyncio

    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if not any((await lag.lag()).values()):
            return time.perf_counter() - started
        await asyncio.sleep(0.25)
    return None


async def phase(spec: dict[str, Any]) -> dict[str, Any]:
    """Worker: send `records` records (batches of BATCH, 2 connections) for `subjects` (None: every record a
    new subject), then wait until every group has committed them; CPU of each group over the whole phase."""
    from bench.workloads import BatchSource, Limited

    host = f"127.0.0.1:{spec['port']}"
    subjects = [tuple(s) for s in spec["subjects"]] if spec["subjects"] else None
    source = BatchSource(
        spec["seed"],
        spec["tag"],
        spec["tokens"],
        host,
        BATCH,
        clean=True,
        subjects=subjects,  # type: ignore[arg-type]
        repeat_subject=0.0,
    )
    lag = LagProbe(spec["bootstrap"], spec["groups"])
    await lag.start()
    meter = CpuMeter(spec["cpu"])
    try:
        meter.start()
        started = time.perf_counter()
        tally, _, _ = await closed_loop(
            "127.0.0.1",
            spec["port"],
            Limited(source, max(spec["records"] // BATCH, 1)),
            connections=2,
            warmup=0.0,
            seconds=3600.0,
        )
        sent = time.perf_counter() - started
        drained = await drain(lag, spec["drain_limit"])
        cpu = meter.stop()
    finally:
        await lag.stop()
    summary = tally.summary(sent)
    return {
        "accepted": summary["accepted"],
        "unexpected": summary["unexpected"],
        "send_seconds": sent,
        "drain_seconds": drained,
        "seconds": time.perf_counter() - started,
        "cpu_s": cpu,
    }


def s8(bench: Bench) -> None:
    from bench.consumers import consumer_groups, start_consumers

    c = bench.config
    if not set(CONSUMERS) <= bench.stack.running:
        why = start_consumers(bench)
        if why:
            bench.add(Row("S8 heavy subjects", "x", note=f"not available: {why}"))
            return
    groups = consumer_groups(bench)
    pids = {s: [bench.stack.service_pid(s)] for s in CONSUMERS}
    rss_pids = {s: bench.stack.service_pid(s) for s in ("ingest", *CONSUMERS)}
    subjects = heavy_subjects(bench.seed() * 7919, c.s8_subjects)

    def run(records: int, heavy: bool, tag: str) -> dict[str, Any]:
        return run_worker(
            {
                "kind": "heavy-phase",
                "port": bench.stack.port("ingest"),
                "tokens": bench.stack.tokens,
                "bootstrap": bench.stack.bootstrap,
                "groups": groups,
                "subjects": subjects if heavy else None,
                "records": records,
                "drain_limit": c.s8_drain_limit,
                "seed": bench.seed(),
                "tag": bench.tag(tag),
                "cpu": pids,
            },
            timeout=c.s8_drain_limit + 3600,
        )

    total = c.s8_subjects * c.s8_records
    print(f"    loading {c.s8_subjects:,} subjects x {c.s8_records} records ({total:,}) with the consumers running …")
    load = run(total, True, "h")
    bench.raw["S8/load"] = load
    if load["drain_seconds"] is None:
        bench.add(
            Row(
                "S8 heavy subjects",
                "x",
                note=f"not available: the consumers had not drained the {total:,} records {c.s8_drain_limit:.0f} s "
                f"after the load (BENCH_S8_DRAIN_LIMIT; loaded in {load['send_seconds']:.0f} s); "
                "lower BENCH_S8_SUBJECTS on a slow machine",
            )
        )
        return
    memory = [rss_mb(rss_pids)]
    idle = idle_cores(pids, IDLE_SECONDS)
    print(
        f"    loaded {load['accepted']:,} in {load['send_seconds']:.0f} s, "
        f"drained {load['drain_seconds']:.0f} s later; "
        f"{c.repetitions} x ({c.s8_events:,} records for new subjects, then for the heavy ones) …",
        flush=True,
    )
    runs = []
    for _ in range(c.repetitions):
        new = run(c.s8_events, False, "n")
        heavy = run(c.s8_events, True, "k")
        runs.append({"new": new, "heavy": heavy})
    memory.append(rss_mb(rss_pids))
    bench.raw["S8"] = {"runs": runs, "memory_mb": memory, "idle_cores": idle}

    def per_record(r: dict[str, Any], service: str) -> float:
        # What the consumer spends idle (polls, its ticker) over the phase is not the records' cost: a slow
        # phase would otherwise be charged for its length.
        busy = float(r["cpu_s"].get(service, 0.0)) - idle.get(service, 0.0) * float(r["seconds"])
        if busy <= 0:  # no more than its idle use: too little work to measure, not free work
            return float("nan")
        return busy * 1e6 / max(int(r["accepted"]), 1)

    undrained = sum(1 for r in runs for p in r.values() if p["drain_seconds"] is None)
    for service in CONSUMERS:
        ratios = [per_record(r["heavy"], service) / max(per_record(r["new"], service), 1e-9) for r in runs]
        heavy_us = spread([per_record(r["heavy"], service) for r in runs])["median"]
        new_us = spread([per_record(r["new"], service) for r in runs])["median"]
        row = bench.add(
            Row(
                f"S8 heavy subjects: {service} CPU per record, {c.s8_records}-record subject / new subject",
                "x",
                ratios,
                cpu_us={"service": heavy_us},
                target=f"<= {TARGETS['S8']} x",
                note=f"{service}: {heavy_us:,.0f} µs per record of a heavy subject, {new_us:,.0f} µs of a new one "
                f"({c.s8_subjects:,} subjects x {c.s8_records} records loaded, {c.s8_events:,} records per phase)"
                + f"; idle CPU ({idle.get(service, 0.0):.3f} cores) subtracted"
                + (f"; {undrained} phase(s) not drained within the limit" if undrained else ""),
            )
        )
        row.met = row.median <= TARGETS["S8"] and not undrained  # NaN (not measurable) is never met
        if row.median != row.median:
            row.note += "; a phase used no more CPU than the consumer uses idle: not measurable at this size"
    memory_rows(bench, "S8", memory)


def memory_rows(bench: Bench, scenario: str, memory: list[dict[str, float]]) -> None:
    """One row per service: resident MB at the end; the note gives the size after warm-up and the ratio."""
    if len(memory) < 2:
        bench.add(Row(f"{scenario} memory", "MB", note="not available: memory was not sampled twice"))
        return
    warm, end = memory[0], memory[-1]
    for service in end:
        growth = end[service] / warm[service] if warm.get(service) else float("nan")
        row = bench.add(
            Row(
                f"{scenario} memory: {service} resident (after warm-up -> end)",
                "MB",
                [end[service]],
                target=f"<= {TARGETS['memory_mb']:.0f} MB, end <= {TARGETS['memory_growth']} x warm-up",
                note=f"{service}: {warm.get(service, 0):,.0f} MB after warm-up, {end[service]:,.0f} MB at the end "
                f"({growth:.2f} x)",
            )
        )
        row.met = (
            max(warm.get(service, 0.0), end[service]) <= TARGETS["memory_mb"] and growth <= TARGETS["memory_growth"]
        )
