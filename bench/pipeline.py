"""S2: the full pipeline under an open-loop POST rate, with public queries at 10 % of it.

"Visible in every consumer" = the event id is in `<schema>.inbox` with status `applied` for grading,
sanctions and publish. Two measures of 202 → visible:
- polled: a sample of the accepted records is watched by polling the three inboxes every 10 ms; the
  record is visible when the last of them has it (an upper bound, by at most one poll);
- processed_at: for every accepted record, the latest `processed_at` of its three inbox rows minus the
  202 time (a lower bound: `processed_at` is the consumer transaction's start, not its commit).
The run is cut into equal windows, each reported like a repetition. Consumer lag is sampled every
second; after the load stops, the time the consumers need to drain it is measured.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import asyncpg

from bench.cpu import CpuMeter
from bench.kafkatools import LagProbe
from bench.load import Job, Tally, open_loop
from bench.records import RecordMix
from bench.stats import percentiles
from bench.workloads import IngestSource, QuerySource

POLL_SECONDS = 0.01


class Visibility:
    """Watches sampled event ids until each is applied in every consumer's inbox."""

    def __init__(self, dsn: str, schemas: list[str]) -> None:
        self._dsn = dsn
        self._schemas = schemas
        self.pending: dict[str, tuple[float, int, dict[str, float]]] = {}
        self.seen: list[tuple[int, float]] = []  # (window, seconds from 202 to visible everywhere)

    async def settled(self, timeout: float) -> None:
        """Wait until every watched record is visible everywhere (or `timeout` passes)."""
        deadline = time.perf_counter() + timeout
        while self.pending and time.perf_counter() < deadline:  # noqa: ASYNC110 (the poller empties `pending`)
            await asyncio.sleep(0.1)

    def watch(self, event_id: str, accepted_at: float, window: int) -> None:
        self.pending[event_id] = (accepted_at, window, {})

    def censor(self) -> int:
        """Count what is still not visible as visible now (a lower bound for it); returns how many."""
        now = time.time()
        for accepted_at, window, _ in self.pending.values():
            self.seen.append((window, now - accepted_at))
        return len(self.pending)

    async def run(self, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(self._dsn)
        try:
            while not stop.is_set():
                await self._poll(conn)
                await asyncio.sleep(POLL_SECONDS)
        finally:
            await conn.close()

    async def _poll(self, conn: asyncpg.Connection) -> None:
        if not self.pending:
            return
        for schema in self._schemas:
            missing = [eid for eid, (_, _, seen) in self.pending.items() if schema not in seen]
            if not missing:
                continue
            rows = await conn.fetch(
                f"SELECT event_id FROM {schema}.inbox WHERE event_id = ANY($1::text[]) AND status = 'applied'",
                missing,
            )
            now = time.time()
            for row in rows:
                self.pending[row[0]][2][schema] = now
        for eid in [e for e, (_, _, seen) in self.pending.items() if len(seen) == len(self._schemas)]:
            accepted_at, window, seen = self.pending.pop(eid)
            self.seen.append((window, max(seen.values()) - accepted_at))


async def processed_at_latency(
    dsn: str, schemas: list[str], accepted: list[tuple[str, float, int]]
) -> tuple[list[float | None], dict[str, dict[str, int]]]:
    """Per accepted record: latest inbox processed_at minus the 202 time (None: not applied everywhere);
    and per consumer, how many accepted records its inbox has in each status other than `applied` or lacks."""
    latest: dict[str, list[float]] = {}
    statuses: dict[str, dict[str, int]] = {}
    conn = await asyncpg.connect(dsn)
    try:
        ids = [eid for eid, _, _ in accepted]
        for schema in schemas:
            for n in range(0, len(ids), 20_000):
                rows = await conn.fetch(
                    f"SELECT event_id, extract(epoch FROM processed_at)::float8, status FROM {schema}.inbox "
                    "WHERE event_id = ANY($1::text[])",
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
    lower = [max(latest[eid]) - t if len(latest.get(eid, ())) == len(schemas) else None for eid, t, _ in accepted]
    return lower, statuses


async def pipeline(spec: dict[str, Any]) -> dict[str, Any]:
    rate, seconds, n_windows = spec["rate"], spec["seconds"], spec["windows"]
    width = seconds / n_windows
    loop = asyncio.get_running_loop()
    mix = RecordMix(seed=spec["seed"], tag=spec["tag"])
    source = IngestSource(mix, spec["tokens"], f"127.0.0.1:{spec['ingest_port']}")
    windows = [Tally() for _ in range(n_windows)]
    accepted: list[tuple[str, float, int]] = []  # (event id, 202 wall time, window it was scheduled in)
    terms: list[str] = []
    visibility = Visibility(spec["dsn"], spec["schemas"])
    sampler = random.Random(spec["seed"])
    starts: dict[str, float] = {}

    def on_done(job: Job, status: int, body: bytes, wall: float) -> None:
        index = min(int((job.scheduled - starts["loop"]) / width), n_windows - 1)
        windows[index].add(job, status, body, time.perf_counter() - job.scheduled)
        if status == 202 and job.event_id is not None:
            accepted.append((job.event_id, wall, index))
            if sampler.random() < spec["sample"]:
                visibility.watch(job.event_id, wall, index)
            if len(terms) < 20_000:
                terms.append(mix_code(job))

    meter = CpuMeter(spec["cpu"])
    cpu_marks: list[dict[str, float]] = []
    lag = LagProbe(spec["bootstrap"], spec["groups"], spec["topics"])
    await lag.start()
    lag_samples: list[tuple[float, int, dict[str, int]]] = []
    stop_polls = asyncio.Event()

    async def sample_lag() -> None:
        while not stop_polls.is_set():
            produced, lags = await lag.sample()
            lag_samples.append((time.perf_counter() - starts["loop"], produced, lags))
            await asyncio.sleep(1.0)

    def mark_cpu() -> None:
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
    pollers = [asyncio.create_task(visibility.run(stop_polls)), asyncio.create_task(sample_lag())]
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
    await visibility.settled(timeout=30)
    censored = visibility.censor()
    stop_polls.set()
    await asyncio.gather(*pollers)
    await lag.stop()
    lower, statuses = await processed_at_latency(spec["dsn"], spec["schemas"], accepted)
    out_windows = []
    for k, tally in enumerate(windows):
        polled = [d * 1000 for window, d in visibility.seen if window == k]
        bound = [d * 1000 for (_, _, window), d in zip(accepted, lower, strict=True) if window == k and d is not None]
        out_windows.append(
            {
                **tally.summary(width),
                "visible_polled_ms": percentiles(polled),
                "visible_processed_at_ms": percentiles(bound),
                "cpu_s": cpu_marks[k + 1] if k + 1 < len(cpu_marks) else {},
                "consumed_per_s": consumed_rates(lag_samples, k * width, (k + 1) * width),
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
        "never_visible_sampled": censored,
        "never_visible": sum(1 for d in lower if d is None),
        "not_applied": {schema: {k: v for k, v in counts.items() if v} for schema, counts in statuses.items()},
        "accepted": len(accepted),
    }


def consumed_rates(samples: list[tuple[float, int, dict[str, int]]], lo: float, hi: float) -> dict[str, float]:
    """Events each group committed per second between the samples nearest to `lo` and `hi` (consumed =
    produced - lag), so a pipeline slower than the offered rate shows its real throughput."""
    if len(samples) < 2:
        return {}
    first = min(samples, key=lambda s: abs(s[0] - lo))
    last = min(samples, key=lambda s: abs(s[0] - hi))
    if last[0] <= first[0]:
        return {}
    return {
        group: ((last[1] - last[2][group]) - (first[1] - first[2][group])) / (last[0] - first[0]) for group in first[2]
    }


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
