"""The load generator: closed loop (N connections back to back: finds the maximum) and open loop (a fixed
rate, latency measured from each request's *scheduled* send time, so a slow server cannot hide its
queueing by slowing the client down: no coordinated omission).

Jobs come from a `Source` (pre-serialised requests with what they should get back); a `Tally` counts
what came back within the measurement window.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from bench.httpclient import Connection
from bench.stats import percentiles

DRAIN_LIMIT = 15.0  # seconds after an open-loop run during which queued requests are still sent
EXPECTED = {"new": (202, 200), "dup": (200, 202), "invalid": (422,), "query": (200,), "bare": (202,)}


@dataclass(slots=True)
class Job:
    data: bytes
    expect: str  # a key of EXPECTED, or "batch"
    records: int = 1
    event_id: str | None = None
    items: tuple[str, ...] = ()  # for batches: what each item should get
    scheduled: float = 0.0


class Source(Protocol):
    def next(self) -> Job | None:
        """The next request, or None when the source is exhausted (a limited load)."""


@dataclass
class Tally:
    requests: int = 0
    ok_requests: int = 0
    records: int = 0  # records answered as expected (a batch counts its items)
    accepted: int = 0  # records accepted now (202): what CPU per accepted record divides by
    unexpected: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def add(self, job: Job, status: int, body: bytes, latency: float) -> None:
        self.requests += 1
        self.latencies.append(latency)
        if job.expect == "batch":
            self._add_batch(job, status, body)
            return
        if status in EXPECTED[job.expect]:
            self.ok_requests += 1
            self.records += job.records
            if status == 202 and job.expect in ("new", "dup"):
                self.accepted += 1
        else:
            self._unexpected(f"{job.expect}->{status}", body)

    def _add_batch(self, job: Job, status: int, body: bytes) -> None:
        if status != 207:
            self._unexpected(f"batch->{status}", body)
            return
        self.ok_requests += 1
        for result, expect in zip(orjson.loads(body)["results"], job.items, strict=True):
            if result["status"] in EXPECTED[expect]:
                self.records += 1
                self.accepted += result["status"] == 202
            else:
                self._unexpected(f"item {expect}->{result['status']}", orjson.dumps(result))

    def error(self, what: str) -> None:
        self.requests += 1
        self.unexpected[what] += 1

    def _unexpected(self, key: str, body: bytes) -> None:
        self.unexpected[key] += 1
        if len(self.samples) < 5:
            self.samples.append(f"{key}: {body[:300].decode(errors='replace')}")

    def summary(self, seconds: float) -> dict[str, Any]:
        return {
            "seconds": seconds,
            "requests": self.requests,
            "ok_requests": self.ok_requests,
            "records": self.records,
            "accepted": self.accepted,
            "records_per_s": self.records / seconds if seconds else 0.0,
            "requests_per_s": self.ok_requests / seconds if seconds else 0.0,
            "latency_ms": percentiles([x * 1000 for x in self.latencies]),
            "unexpected": dict(self.unexpected),
            "samples": self.samples,
        }


OnDone = Callable[[Job, int, bytes, float], None]


async def _send(conn: Connection, job: Job) -> tuple[int, bytes] | str:
    try:
        return await conn.request(job.data)
    except (ConnectionError, OSError) as exc:
        return f"connection error: {type(exc).__name__}"


async def closed_loop(
    host: str, port: int, source: Source, *, connections: int, warmup: float, seconds: float
) -> tuple[Tally, float, float]:
    """`connections` clients back to back; counts what completes inside [start + warmup, + seconds]."""
    clock = time.perf_counter  # uvloop's loop.time() has only millisecond resolution
    tally = Tally()
    start = clock() + warmup
    end = start + seconds
    first = source.next()
    keep = first is not None and first.expect == "batch"
    pending = [first]

    async def client() -> None:
        conn = Connection(host, port, keep_body=keep)
        try:
            while True:
                job = pending.pop() if pending else source.next()
                sent = clock()
                if job is None or sent >= end:
                    return
                answer = await _send(conn, job)
                done = clock()
                if done < start or done > end:
                    continue
                if isinstance(answer, str):
                    tally.error(answer)
                else:
                    tally.add(job, answer[0], answer[1], done - sent)
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return tally, start, end


async def open_loop(
    host: str,
    port: int,
    source: Source,
    *,
    rate: float,
    seconds: float,
    warmup: float = 0.0,
    connections: int = 256,
    on_done: OnDone | None = None,
    keep_body: bool = False,
    t0: float | None = None,
) -> tuple[Tally, float, float]:
    """Send at `rate` requests/s; a request waits in the queue while every connection is busy, and its
    latency counts from the moment it was due. Counts requests *scheduled* in [start, end)."""
    clock = time.perf_counter
    tally = Tally()
    queue: asyncio.Queue[Job | None] = asyncio.Queue()
    t0 = t0 if t0 is not None else clock() + 0.05
    start, end = t0 + warmup, t0 + warmup + seconds
    total = int((warmup + seconds) * rate)

    async def dispatcher() -> None:
        sent, limit = 0, total
        while sent < limit:
            now = clock()
            due = min(int((now - t0) * rate) + 1, limit)
            while sent < due:
                job = source.next()
                if job is None:
                    limit = sent
                    break
                job.scheduled = t0 + sent / rate
                queue.put_nowait(job)
                sent += 1
            await asyncio.sleep(max(0.0, min(0.001, t0 + sent / rate - clock())))
        for _ in range(connections):
            queue.put_nowait(None)

    async def client() -> None:
        conn = Connection(host, port, keep_body=keep_body)
        try:
            while (job := await queue.get()) is not None:
                if clock() > end + DRAIN_LIMIT:
                    if start <= job.scheduled < end:
                        tally.error("not sent: still queued long after the run (overload)")
                    continue
                answer = await _send(conn, job)
                done = clock()
                if not start <= job.scheduled < end:
                    continue
                if isinstance(answer, str):
                    tally.error(answer)
                    continue
                tally.add(job, answer[0], answer[1], done - job.scheduled)
                if on_done is not None:
                    on_done(job, answer[0], answer[1], time.time())
        finally:
            conn.close()

    await asyncio.gather(dispatcher(), *(client() for _ in range(connections)))
    return tally, start, end


def install_uvloop() -> None:
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
