"""S2: the full pipeline under an open-loop POST rate, with public queries at 10 % of it.

"Visible in every consumer" = the event id is in `<schema>.inbox` with status `applied` for grading,
sanctions and publish. 202 → visible is, for every accepted record, the commit time of the last of its
three inbox rows minus the 202 time, read once after the run (`visible_latency`): nothing polls the
database while it is measured (an earlier version polled the three inboxes every 10 ms, which loaded the
database it measured).
The run is cut into equal windows, each reported like a repetition. Consumer lag is sampled every second
over every topic each group consumes (sanctions' grade events, publish's and sanctions' objections
included); after the load stops, the time the consumers need to drain it is measured. Each service's
resident memory is read after warm-up and at the end.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg

from bench.cpu import CpuMeter
from bench.kafkatools import LagProbe
from bench.load import Job, Tally, open_loop
from bench.memory import rss_mb
from bench.records import RecordMix
from bench.stats import percentiles
from bench.workloads import IngestSource, QuerySource


async def visible_latency(
    dsn: str, schemas: list[str], accepted: list[tuple[str, float, int]]
) -> tuple[list[float | None], dict[str, dict[str, int]]]:
    """Per accepted record: the commit time of its inbox row in the last consumer to apply it, minus the
    202 time (None: not applied everywhere); and per consumer, how many accepted records its inbox has in
    each status other than `applied` or lacks. Read once, after the run: the database is not polled while
    it is measured. The commit time is PostgreSQL's (`track_commit_timestamp`, on in the bench cluster) of
    the transaction that wrote the row (`xmin`): the consumer's whole poll, so the moment the derived
    state of the record became visible to a reader."""
    latest: dict[str, list[float]] = {}
    statuses: dict[str, dict[str, int]] = {}
    conn = await asyncpg.connect(dsn)
    try:
        ids = [eid for eid, _, _ in accepted]
        for schema in schemas:
            for n in range(0, len(ids), 20_000):
                rows = await conn.fetch(
                    "SELECT event_id, extract(epoch FROM coalesce(pg_xact_commit_timestamp(xmin), processed_at))"
                    f"::float8, status FROM {schema}.inbox WHERE event_id = ANY($1::text[])",
                    ids[n : n + 20_000],
                )
                counts = statuses.setdefault(schema, {"missing": len(ids)})
                for eid, at, status in rows:
                    counts["missing"] -= 1
                    if status == "applied":
                        latest.setdefault(eid, []).append(at)
                    else:
                        counts[status] = counts.get(status, 0) + 1
    finally:
        await conn.close()
    visible = [max(latest[eid]) - t if len(latest.get(eid, ())) == len(schemas) else None for eid, t, _ in accepted]
    return visible, statuses


async def pipeline(spec: dict[str, Any]) -> dict[str, Any]:
    rate, seconds, n_windows = spec["rate"], spec["seconds"], spec["windows"]
    width = seconds / n_windows
    loop = asyncio.get_running_loop()
    mix = RecordMix(seed=spec["seed"], tag=spec["tag"])
    source = IngestSource(mix, spec["tokens"], f"127.0.0.1:{spec['ingest_port']}")
    windows = [Tally() for _ in range(n_windows)]
    accepted: list[tuple[str, float, int]] = []  # (event id, 202 wall time, window it was scheduled in)
    terms: list[str] = []
    starts: dict[str, float] = {}

    def on_done(job: Job, status: int, body: bytes, wall: float) -> None:
        index = min(int((job.scheduled - starts["loop"]) / width), n_windows - 1)
        windows[index].add(job, status, body, time.perf_counter() - job.scheduled)
        if status == 202 and job.event_id is not None:
            accepted.append((job.event_id, wall, index))
            if len(terms) < 20_000:
                terms.append(mix_code(job))

    meter = CpuMeter(spec["cpu"])
    cpu_marks: list[dict[str, float]] = []
    lag = LagProbe(spec["bootstrap"], spec["groups"])
    await lag.start()
    lag_samples: list[tuple[float, dict[str, int], dict[str, dict[str, int]]]] = []
    memory: list[dict[str, float]] = []
    stop_polls = asyncio.Event()

    async def sample_lag() -> None:
        while not stop_polls.is_set():
            produced, lags = await lag.sample()
            lag_samples.append((time.perf_counter() - starts["loop"], produced, lags))
            await asyncio.sleep(1.0)

    def mark_cpu() -> None:
        if len(cpu_marks) in (0, n_windows):  # after warm-up, and at the end of the last window
            memory.append(rss_mb(spec["rss"]))
        if not cpu_marks:
            meter.start()
            cpu_marks.append({})
        else:
            cpu_marks.append(meter.stop())
            meter.start()

    t0 = time.perf_counter() + 0.1
    start = t0 + spec["warmup"]
    starts["loop"] = start
    for k in range(n_windows + 1):
        loop.call_later(start + k * width - time.perf_counter(), mark_cpu)
    pollers = [asyncio.create_task(sample_lag())]
    loads = [
        open_loop(
            "127.0.0.1",
            spec["ingest_port"],
            source,
            rate=rate,
            seconds=seconds,
            warmup=spec["warmup"],
            connections=spec["connections"],
            on_done=on_done,
            t0=t0,
        )
    ]
    if spec["query_port"]:
        queries = QuerySource(terms, f"127.0.0.1:{spec['query_port']}", seed=spec["seed"])
        loads.append(
            open_loop(
                "127.0.0.1",
                spec["query_port"],
                queries,
                rate=rate * 0.1,
                seconds=seconds,
                warmup=spec["warmup"],
                connections=32,
                t0=t0,
            )
        )
    results = await asyncio.gather(*loads)
    drained_after = await _drain(lag, spec["drain_limit"])
    stop_polls.set()
    await asyncio.gather(*pollers)
    await lag.stop()
    visible, statuses = await visible_latency(spec["dsn"], spec["schemas"], accepted)
    records = set(spec["record_topics"])
    out_windows = []
    for k, tally in enumerate(windows):
        seen = [d * 1000 for (_, _, window), d in zip(accepted, visible, strict=True) if window == k and d is not None]
        out_windows.append(
            {
                **tally.summary(width),
                "visible_ms": percentiles(seen),
                "cpu_s": cpu_marks[k + 1] if k + 1 < len(cpu_marks) else {},
                "consumed_per_s": consumed_rates(lag_samples, k * width, (k + 1) * width, records),
                "events_per_s": consumed_rates(lag_samples, k * width, (k + 1) * width, None),
            }
        )
    return {
        "rate": rate,
        "seconds": seconds,
        "windows": out_windows,
        "whole": results[0][0].summary(seconds),
        "queries": results[1][0].summary(seconds) if len(results) > 1 else None,
        "lag": [(round(t, 2), produced, v) for t, produced, v in lag_samples],
        "drain_seconds": drained_after,
        "never_visible": sum(1 for d in visible if d is None),
        "memory_mb": memory,
        "not_applied": {schema: {k: v for k, v in counts.items() if v} for schema, counts in statuses.items()},
        "accepted": len(accepted),
    }


def consumed_rates(
    samples: list[tuple[float, dict[str, int], dict[str, dict[str, int]]]],
    lo: float,
    hi: float,
    topics: set[str] | None,
) -> dict[str, float]:
    """Messages each group committed per second on `topics` (None: every topic it consumes, grade and
    objection events included) between the samples nearest to `lo` and `hi` (consumed = produced - lag),
    so a pipeline slower than the offered rate shows its real throughput."""
    if len(samples) < 2:
        return {}
    first = min(samples, key=lambda s: abs(s[0] - lo))
    last = min(samples, key=lambda s: abs(s[0] - hi))
    if last[0] <= first[0]:
        return {}

    def committed(sample: tuple[float, dict[str, int], dict[str, dict[str, int]]], group: str) -> int:
        _, produced, lags = sample
        return sum(produced[t] - lag for t, lag in lags[group].items() if topics is None or t in topics)

    return {group: (committed(last, group) - committed(first, group)) / (last[0] - first[0]) for group in first[2]}


def mix_code(job: Job) -> str:
    """The subject code of a record request (query term for the disclosure search)."""
    body = job.data
    at = body.index(b'"code":"') + 8
    return body[at : at + 18].decode()


async def _drain(lag: LagProbe, limit: float) -> float | None:
    """Seconds after the load stopped until no consumer group has lag (None: not within `limit`)."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if not any((await lag.lag()).values()):
            return time.perf_counter() - started
        await asyncio.sleep(0.25)
    return None
