"""S5 webhook deliveries per second to a local receiver (issue 20; target >= 2,000/s).

The bridge's dispatcher (services/bridge/webhooks.py, the real one: leases in PostgreSQL, Standard
Webhooks signing, one aiohttp client) runs in `BENCH_S5_DISPATCHERS` processes of their own (replicas:
they claim side by side with `FOR UPDATE SKIP LOCKED`), idle until the bench commits N pending deliveries
over many subjects in one transaction; they deliver them to a receiver process on loopback that answers
204. The figure is deliveries recorded as delivered per second of wall time from that commit.

CPU is accounted per process group over the same window, as µs per delivery: the dispatchers, the
receiver (a stand-in for the subscriber, not the exchange's cost), PostgreSQL, the bench process itself
(it only counts delivered rows, every 0.2 s) and `others` (the rest of the machine meanwhile).

The processes it starts are `python -m bench.webhook_client dispatch|bare` (a module that imports only
what they need, so they start quickly; the window starts once every one has said it is ready).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from bench.cpu import CpuMeter
from bench.runner import Bench, Row
from deploy.processes import free_port, wait_until
from services.bridge import store
from services.common.db import create_engine, sql
from services.common.migrations import upgrade

TARGET = 2000.0
# A subscriber endpoint as small as an ASGI app gets (no framework routing): the bench measures the
# dispatcher, so the receiver should cost as little as a real HTTP server can.
RECEIVER = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
"""


@dataclass
class Measured:
    rate: float
    seconds: float
    cpu: dict[str, float]  # CPU seconds per group over the window
    load: tuple[float, float]  # 1-minute load average at the start and at the end


async def _seed(database_url: str, url: str, n: int, subjects: int) -> str:
    """A subscription and n deliveries over `subjects` subjects, committed at once; the subscription id."""
    engine = create_engine(database_url, pool_size=1)
    now = datetime.now(UTC)
    sub = f"bench-{time.time_ns()}"
    data = orjson.dumps({"event": "published", "department": "AMR", "record_id": "x"}).decode()
    feed = [{"id": f"{sub}:{i}", "subject": f"S{i % subjects}", "now": now, "data": data} for i in range(n)]
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sql(
                    "INSERT INTO bridge.subscriptions (id, credential_id, role, url, types, secret, created_at) "
                    "VALUES (:id, 'bench', 'county', :url, ARRAY['disclosure'], :secret, :now)"
                ),
                {"id": sub, "url": url, "secret": "whsec_" + "QUJD" * 11, "now": now},
            )
            await conn.execute(
                sql(
                    "INSERT INTO bridge.feed (event_id, type, family, subject, departments, time, source, data) "
                    "VALUES (:id, 'cn.credit.disclosure.published', 'disclosure', :subject, ARRAY['AMR'], :now, "
                    "'/services/publish', CAST(:data AS jsonb))"
                ),
                feed,
            )
            await store.insert_deliveries(
                conn, [{"sub": sub, "event": f["id"], "subject": f["subject"], "now": now} for f in feed]
            )
    finally:
        await engine.dispose()
    return sub


async def _wait_delivered(database_url: str, sub: str, n: int) -> None:
    engine = create_engine(database_url, pool_size=1)
    q = "SELECT count(*) FROM bridge.deliveries WHERE subscription_id = :s AND state = 'delivered'"
    try:
        while True:
            async with engine.connect() as conn:
                if int((await conn.execute(sql(q), {"s": sub})).scalar_one()) >= n:
                    return
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


def _receiver(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", RECEIVER + f"\nimport uvicorn; uvicorn.run(app, host='127.0.0.1', port={port}, "
         "log_level='warning', access_log=False, lifespan='off', loop='uvloop', http='httptools')"],
    )  # fmt: skip


def measure_bare(n: int, concurrency: int = 200) -> Measured:
    """The same receiver and N signed POSTs from a bare aiohttp loop in a process of its own (no database,
    no claim, no recording): what one client process and the receiver reach on this machine now."""
    port = free_port()
    receiver = _receiver(port)
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/hook"), timeout=30, what="the webhook receiver")
        client = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.webhook_client",
                "bare",
                f"http://127.0.0.1:{port}/hook",
                str(n),
                str(concurrency),
            ],
            stdout=subprocess.PIPE,
        )
        meter = CpuMeter({"receiver": [receiver.pid]})
        load_start = os.getloadavg()[0]
        meter.start()
        out, _ = client.communicate(timeout=600)
        cpu = meter.stop()
        seconds, client_cpu = (float(v) for v in out.decode().split())
        cpu["dispatchers"] = client_cpu  # the client's own CPU (it has exited: /proc no longer has it)
        cpu["others"] = max(cpu.get("others", 0.0) - client_cpu, 0.0)
        return Measured(n / seconds, seconds, cpu, (load_start, os.getloadavg()[0]))
    finally:
        receiver.terminate()
        receiver.wait(10)


def measure(database_url: str, n: int, subjects: int, dispatchers: int, infra: dict[str, list[int]]) -> Measured:
    """One S5 run on a migrated database: receiver and dispatchers started, N deliveries delivered."""
    upgrade("bridge", database_url)  # idempotent (the bench stack has migrated every schema already)
    port = free_port()
    receiver = _receiver(port)
    env = {**os.environ, "BENCH_S5_DATABASE_URL": database_url}
    workers = [
        subprocess.Popen([sys.executable, "-m", "bench.webhook_client", "dispatch"], env=env, stdout=subprocess.PIPE)
        for _ in range(dispatchers)
    ]
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/hook"), timeout=30, what="the webhook receiver")
        for worker in workers:  # each prints one line once its dispatcher is in its claim loop
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != b"ready":
                raise RuntimeError("a dispatcher process did not start")
        meter = CpuMeter(
            {"dispatchers": [w.pid for w in workers], "receiver": [receiver.pid], **{k: infra[k] for k in infra}}
        )
        load_start = os.getloadavg()[0]
        meter.start()
        sub = asyncio.run(_seed(database_url, f"http://127.0.0.1:{port}/hook", n, subjects))
        started = time.perf_counter()  # the deliveries became visible at the seed's commit
        asyncio.run(_wait_delivered(database_url, sub, n))
        elapsed = time.perf_counter() - started
        cpu = meter.stop()
        return Measured(n / elapsed, elapsed, cpu, (load_start, os.getloadavg()[0]))
    finally:
        for process in [*workers, receiver]:
            process.terminate()
        for process in [*workers, receiver]:
            process.wait(10)


def s5(bench: Bench) -> None:
    n, subjects = (5000, 500) if bench.config.quick else (20000, 2000)
    # Another shape of backlog (e.g. many events for few subjects: BENCH_S5_N=20000 BENCH_S5_SUBJECTS=500).
    n = int(os.environ.get("BENCH_S5_N", n))
    subjects = int(os.environ.get("BENCH_S5_SUBJECTS", subjects))
    # Two, as the bridge runs with BRIDGE_WORKERS=2 (one dispatcher per worker process): on 2 cores one
    # dispatcher is bound by its own CPU (aiohttp's request path) at ~1,300/s.
    dispatchers = int(os.environ.get("BENCH_S5_DISPATCHERS", "2"))
    infra = {k: v for k, v in bench.stack.infra_pids().items() if k == "postgres"}
    bare_runs = [measure_bare(n) for _ in range(bench.config.repetitions)]
    base = bench.add(
        Row(
            "S5 baseline: a bare aiohttp loop, signed POSTs to the same receiver (no database)",
            "requests/s",
            [m.rate for m in bare_runs],
            cpu_us=table_cpu(cpu_per_delivery(bare_runs[-1], n)),
            others=bare_runs[-1].cpu.get("others", 0.0) / bare_runs[-1].seconds,
            note=note(bare_runs[-1], n).replace("dispatchers", "client"),
        )
    )
    runs = [measure(bench.stack.database_url, n, subjects, dispatchers, infra) for _ in range(bench.config.repetitions)]
    row = bench.add(
        Row(
            f"S5 webhook deliveries to a local receiver ({n:,} over {subjects:,} subjects, "
            f"{dispatchers} dispatcher process{'es' if dispatchers > 1 else ''})",
            "deliveries/s",
            [m.rate for m in runs],
            baseline="bare aiohttp",
            baseline_value=base.median,
            cpu_us=table_cpu(cpu_per_delivery(runs[-1], n)),
            others=runs[-1].cpu.get("others", 0.0) / runs[-1].seconds,
            target=f">= {TARGET:,.0f}/s",
            note=note(runs[-1], n),
        )
    )
    row.met = row.median >= TARGET


def cpu_per_delivery(m: Measured, n: int) -> dict[str, float]:
    return {k: v * 1e6 / n for k, v in m.cpu.items()}


def table_cpu(us: dict[str, float]) -> dict[str, float]:
    """The table's columns: svc = the dispatchers, infra = PostgreSQL, loadgen = the receiver and the bench."""
    return {
        "service": us.get("dispatchers", 0.0),
        "infra": us.get("postgres", 0.0),
        "loadgen": us.get("receiver", 0.0) + us.get("loadgen", 0.0),
    }


def note(m: Measured, n: int) -> str:
    us = cpu_per_delivery(m, n)
    ceiling = 1e6 / us["dispatchers"] if us.get("dispatchers") else 0.0
    return (
        f"CPU µs/delivery: dispatchers {us.get('dispatchers', 0):.0f} (one core of them: {ceiling:,.0f}/s), "
        f"receiver {us.get('receiver', 0):.0f}, postgres {us.get('postgres', 0):.0f}, "
        f"others {us.get('others', 0):.0f}; load {m.load[0]:.1f} -> {m.load[1]:.1f}"
    )


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=1)  # noqa: S310
        return True
    except OSError:
        return False
