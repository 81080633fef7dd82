"""The processes of S5 (bench/webhooks.py), light to start: `dispatch` runs one bridge dispatcher (the real
`services.bridge.webhooks.Dispatcher`) on uvloop until SIGTERM and prints `ready` once it claims;
`bare <url> <n> <concurrency>` sends N signed POSTs from a bare aiohttp loop and prints its seconds and CPU
seconds."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import UTC, datetime

import orjson
import uvloop


def dispatch() -> None:
    """One dispatcher process until SIGTERM (on uvloop, as the bridge runs under uvicorn)."""
    from services.bridge.settings import BridgeSettings
    from services.bridge.wakeup import Wakeup
    from services.bridge.webhooks import Dispatcher
    from services.common.clock import SystemClock
    from services.common.db import create_engine

    async def run() -> None:
        database_url = os.environ["BENCH_S5_DATABASE_URL"]
        settings = BridgeSettings(database_url=database_url, webhook_allow_http=True, idle_seconds=0.05)
        engine = create_engine(database_url, pool_size=4)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with engine.connect():  # the pool is up before the bench starts its clock
            pass
        task = asyncio.create_task(Dispatcher(engine, settings, SystemClock(), Wakeup()).run(stop))
        await asyncio.sleep(0)
        print("ready", flush=True)
        await stop.wait()
        task.cancel()
        await engine.dispose()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run())


def bare(url: str, n: int, concurrency: int) -> float:
    """N signed POSTs over `concurrency` kept-alive connections; prints the seconds they took (the time of
    the first request of the loop on, connection set-up included, as the dispatcher's is)."""
    import aiohttp
    from standardwebhooks import Webhook

    signer = Webhook("whsec_" + "QUJD" * 11)
    body = orjson.dumps({"event": "published", "department": "AMR", "record_id": "x"})

    async def run() -> float:
        left = n
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency), cookie_jar=aiohttp.DummyCookieJar()
        ) as session:

            async def worker() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    event_id = f"bare:{left}"
                    headers = {
                        "content-type": "application/json",
                        "ce-specversion": "1.0",
                        "ce-id": event_id,
                        "webhook-id": event_id,
                        "webhook-timestamp": str(int(time.time())),
                        "webhook-signature": signer.sign(event_id, datetime.now(UTC), body),
                    }
                    async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                        await response.read()

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - started

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run())


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


if __name__ == "__main__":
    if sys.argv[1:] == ["dispatch"]:
        dispatch()
    elif sys.argv[1:2] == ["bare"]:
        cpu_before = _cpu_seconds()
        print(bare(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])), _cpu_seconds() - cpu_before)
    else:
        raise SystemExit("usage: python -m bench.webhook_client dispatch | bare <url> <n> <concurrency>")
