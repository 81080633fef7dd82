"""S3: a fresh consumer group of the grading consumer catching up from offset 0 into a scratch database,
with its outbox relay running (issue 18: the grades it derives are sent to Kafka as the service sends
them, not left in the outbox), and S3b: `exchange audit replay` of all three services.

S3 is the service's own `ConsumerLoop` with the grading service's handlers (`services.grading.app.build`)
and its relay (`ServiceRuntime.start_relay`), on an engine and Kafka clients made with the service's
settings. It is done when the group has committed the end offsets and the outbox is empty. A replay
slower than the bench can wait for stops after `max_seconds` and reports the rate it had.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from bench.cpu import CpuMeter
from bench.kafkatools import end_offsets
from services.common.consumer import ConsumerLoop
from services.common.consumer_service import ConsumerParts
from services.common.db import create_engine
from services.common.kafka import make_consumer, make_producer
from services.common.runtime import ServiceRuntime


def grading_parts(runtime: ServiceRuntime) -> ConsumerParts:
    """The grading service's handlers, built as its app builds them (`services.grading.app.build`)."""
    from fastapi import FastAPI

    from services.common.clock import SystemClock
    from services.grading.app import build

    return build(FastAPI(), runtime, SystemClock())


async def _reached(consumer: Any, ends: dict[Any, int], *, committed: bool) -> bool:
    """Have the fetch positions (cheap, local) or the committed offsets (a broker call) reached `ends`?"""
    for tp, end in ends.items():
        offset = (await consumer.committed(tp) or 0) if committed else await consumer.position(tp)
        if offset < end:
            return False
    return True


async def replay(spec: dict[str, Any]) -> dict[str, Any]:
    from services.grading.settings import GradingSettings

    settings = GradingSettings(
        DATABASE_URL=spec["database_url"], KAFKA_BOOTSTRAP=spec["bootstrap"], topic_prefix=spec["topic_prefix"]
    )
    engine = create_engine(settings.database_url, pool_size=settings.pool_size)
    runtime = ServiceRuntime(name="grading", schema="grading", settings=settings, engine=engine)
    parts = grading_parts(runtime)
    relay = runtime.start_relay()
    ends = await end_offsets(spec["bootstrap"], spec["topics"])
    total = sum(ends.values())
    consumer = make_consumer(spec["bootstrap"], group_id=spec["group"], topics=spec["topics"], client_id="bench-s3")
    dlq = make_producer(spec["bootstrap"], client_id="bench-s3-dlq", linger_ms=0)
    await dlq.start()
    await consumer.start()
    loop = ConsumerLoop(
        engine=engine,
        consumer=consumer,
        dlq_producer=dlq,
        schema="grading",
        group_id=spec["group"],
        handle=parts.handle,
        handle_batch=parts.handle_batch,
    )
    meter = CpuMeter(spec["cpu"])
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    first: float | None = None
    done = total
    try:
        while True:
            if task.done():
                task.result()  # raises what stopped the loop
                raise RuntimeError("the consumer loop ended early")
            assigned = consumer.assignment()
            if assigned and first is None:
                positions = [await consumer.position(tp) for tp in assigned]
                if any(positions):
                    first = time.perf_counter()
                    meter.start()
            if first is not None and time.perf_counter() - first >= spec.get("max_seconds", float("inf")):
                done = loop.applied_total  # too slow to finish here: the rate so far is the figure
                break
            caught_up = first is not None and set(assigned) == set(ends)
            if (
                caught_up
                and await _reached(consumer, ends, committed=False)
                and await _reached(consumer, ends, committed=True)
                and await relay.backlog() == 0
            ):
                break
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - (first or time.perf_counter())
        cpu = meter.stop()
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=10)
        await consumer.stop()
        await dlq.stop()
        await runtime.close()
    return {
        "per_s": done / elapsed if elapsed else 0.0,
        "count": done,
        "total": total,
        "applied": loop.applied_total,
        "relayed": relay.sent_total,
        "seconds": elapsed,
        "cpu_s": cpu,
        "handler": "grading service handlers (services.grading.app.build) and its outbox relay, as the service runs "
        "them",
    }


class _Progress:
    """A text stream for `exchange audit replay`'s progress lines: keeps (time, events applied so far)."""

    def __init__(self) -> None:
        self.points: list[tuple[float, int]] = []
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("applied ") and "/" in line:
                self.points.append((time.perf_counter(), int(line.split()[1].split("/")[0])))
            elif line:
                self.lines.append(line)
        return len(text)

    def flush(self) -> None:
        pass


async def audit_replay(spec: dict[str, Any]) -> dict[str, Any]:
    """S3b: `exchange audit replay` (services.audit.replay.replay) of grading, sanctions and publish from
    offset 0, as an auditor runs it. The figure is events applied per second of its apply phase (reading
    the topics and comparing with the live state are reported apart). A replay still applying after
    `max_seconds` is cancelled; its rate between the first and the last progress line is the figure."""
    from services.audit.replay import replay as audit
    from services.common.settings import CommonSettings

    settings = CommonSettings(
        DATABASE_URL=spec["database_url"], KAFKA_BOOTSTRAP=spec["bootstrap"], topic_prefix=spec["topic_prefix"]
    )
    progress = _Progress()
    meter = CpuMeter(spec["cpu"])
    meter.start()
    started = time.perf_counter()
    task = asyncio.create_task(audit(settings, out=progress, progress_every=spec.get("progress_every", 1000)))  # type: ignore[arg-type]
    done, _ = await asyncio.wait({task}, timeout=spec["max_seconds"])
    cpu = meter.stop()
    elapsed = time.perf_counter() - started
    if done:
        report = task.result()
        applied = sum(report.applied.values())
        return {
            "per_s": applied / max(report.apply_seconds, 1e-6),
            "count": applied,
            "applied": report.applied,
            "read": report.read,
            "read_seconds": report.read_seconds,
            "apply_seconds": report.apply_seconds,
            "refused": {k: len(v) for k, v in report.refused.items()},
            "identical": report.identical,
            "complete": True,
            "seconds": elapsed,
            "cpu_s": cpu,
        }
    task.cancel()
    with contextlib.suppress(BaseException):
        await task  # its finally drops the scratch schemas
    points = progress.points
    rate = (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0]) if len(points) > 1 else 0.0
    return {
        "per_s": rate,
        "count": points[-1][1] if points else 0,
        "complete": False,
        "seconds": elapsed,
        "cpu_s": cpu,
        "lines": progress.lines[-5:],
    }
