"""S3: a fresh consumer group of the grading consumer catching up from offset 0 into a scratch database.

It is the service's own `ConsumerLoop` with the grading service's handlers (`services.grading.app.build`),
on an engine and Kafka clients made with the service's settings. A replay slower than the bench can
wait for stops after `max_seconds` and reports the rate it had.
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

    settings = GradingSettings(DATABASE_URL=spec["database_url"], KAFKA_BOOTSTRAP=spec["bootstrap"])
    engine = create_engine(settings.database_url, pool_size=settings.pool_size)
    runtime = ServiceRuntime(name="grading", schema="grading", settings=settings, engine=engine)
    parts = grading_parts(runtime)
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
            ):
                break
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - (first or time.perf_counter())
        cpu = meter.stop()
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=10)
        runtime.stop.set()
        for t in runtime.tasks:
            t.cancel()
        await consumer.stop()
        await dlq.stop()
        await engine.dispose()
    return {
        "per_s": done / elapsed if elapsed else 0.0,
        "count": done,
        "total": total,
        "applied": loop.applied_total,
        "seconds": elapsed,
        "cpu_s": cpu,
        "handler": "grading service handlers (services.grading.app.build), as the service runs them",
    }
