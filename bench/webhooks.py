"""S5 webhook deliveries per second to a local receiver (issue 20; target >= 2,000/s).

The bridge's dispatcher (services/bridge/webhooks.py, the real one: leases in PostgreSQL, Standard
Webhooks signing, one aiohttp client) delivers N pending deliveries over many subjects to a receiver process on
loopback that answers 204; the figure is deliveries recorded as delivered per second of wall time.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime

import orjson
import uvloop

from bench.runner import Bench, Row
from deploy.processes import free_port, wait_until
from services.bridge.settings import BridgeSettings
from services.bridge.wakeup import Wakeup
from services.bridge.webhooks import Dispatcher
from services.common.clock import SystemClock
from services.common.db import create_engine, sql
from services.common.migrations import upgrade

TARGET = 2000.0
RECEIVER = """
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
async def hook(request):
    await request.body()
    return Response(status_code=204)
app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
"""


async def _run(database_url: str, url: str, n: int, subjects: int) -> float:
    engine = create_engine(database_url, pool_size=4)
    now = datetime.now(UTC)
    sub = f"bench-{int(time.time())}"
    async with engine.begin() as conn:
        await conn.execute(
            sql(
                "INSERT INTO bridge.subscriptions (id, credential_id, role, url, types, secret, created_at) "
                "VALUES (:id, 'bench', 'county', :url, ARRAY['disclosure'], :secret, :now)"
            ),
            {"id": sub, "url": url, "secret": "whsec_" + "QUJD" * 11, "now": now},
        )
        data = orjson.dumps({"event": "published", "department": "AMR", "record_id": "x"}).decode()
        feed = [{"id": f"{sub}:{i}", "subject": f"S{i % subjects}", "now": now, "data": data} for i in range(n)]
        await conn.execute(
            sql(
                "INSERT INTO bridge.feed (event_id, type, family, subject, departments, time, source, data) "
                "VALUES (:id, 'cn.credit.disclosure.published', 'disclosure', :subject, ARRAY['AMR'], :now, "
                "'/services/publish', CAST(:data AS jsonb))"
            ),
            feed,
        )
        await conn.execute(
            sql(
                "INSERT INTO bridge.deliveries (subscription_id, event_id, subject, created_at, next_attempt_at) "
                "VALUES (:sub, :id, :subject, :now, :now)"
            ),
            [{"sub": sub, **f} for f in feed],
        )
    settings = BridgeSettings(database_url=database_url, webhook_allow_http=True, idle_seconds=0.05)
    dispatcher = Dispatcher(engine, settings, SystemClock(), Wakeup())
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(dispatcher.run(stop))

    async def delivered() -> int:
        async with engine.connect() as conn:
            q = "SELECT count(*) FROM bridge.deliveries WHERE subscription_id = :s AND state = 'delivered'"
            return int((await conn.execute(sql(q), {"s": sub})).scalar_one())

    while await delivered() < n:  # noqa: ASYNC110 - the count is in the database, not an event
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    stop.set()
    task.cancel()
    await engine.dispose()
    return n / elapsed


def s5(bench: Bench) -> None:
    n, subjects = (5000, 500) if bench.config.quick else (20000, 2000)
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-c", RECEIVER + f"\nimport uvicorn; uvicorn.run(app, host='127.0.0.1', port={port}, "
         "log_level='warning', access_log=False)"],
    )  # fmt: skip
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/hook"), timeout=30, what="the webhook receiver")
        upgrade("bridge", bench.stack.database_url)  # the bench stack migrates every schema; idempotent
        # The bridge runs under uvicorn on uvloop (services/common/runtime.py): so does its dispatcher here.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            rate = runner.run(_run(bench.stack.database_url, f"http://127.0.0.1:{port}/hook", n, subjects))
    finally:
        receiver.terminate()
        receiver.wait(10)
    row = bench.add(
        Row(
            f"S5 webhook deliveries to a local receiver ({n:,} over {subjects:,} subjects)",
            "deliveries/s",
            [rate],
            target=f">= {TARGET:,.0f}/s",
        )
    )
    row.met = rate >= TARGET


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=1)  # noqa: S310
        return True
    except OSError:
        return False
