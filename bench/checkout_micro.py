"""In-process: what a pool checkout costs with SQLAlchemy's ``pool_pre_ping`` (what every pool had) against the
services' pools now (services/common/db.py: no pre-ping, a closed connection refused at checkout from the
driver's own state). One unit is what a consumer poll or a request does to the pool: check a connection out,
run one statement in a transaction, give it back. Alternated in one process on a PostgreSQL of its own, so a
busy machine slows both alike. Server transactions per unit are read from ``pg_stat_database`` (the pre-ping
is a transaction of its own: BEGIN, ``;``, ROLLBACK, three round trips). Then the server is restarted and
the first unit on each pool is tried once: with neither pre-ping nor the checkout check, it would fail.

    .venv/bin/python -m bench.checkout_micro [--units 2000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from deploy.local_postgres import PostgresCluster
from deploy.processes import free_port
from services.common.db import create_engine, sql


def _pre_ping_engine(url: str) -> AsyncEngine:
    """The pools as they were: the same settings with ``pool_pre_ping=True``."""
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": "pre-ping", "timezone": "UTC"}},
    )


async def _transactions(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        # the statistics are a snapshot per transaction: read them fresh, outside any
        await conn.execute(sql("SELECT pg_stat_clear_snapshot()"))
        row = (
            await conn.execute(
                sql("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
            )
        ).one()
        return int(row[0])


async def _units(engine: AsyncEngine, n: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per unit."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        async with engine.begin() as conn:
            await conn.execute(sql("SELECT 1"))
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


async def _measure(url: str, units: int, rounds: int) -> None:
    engines = {"pre-ping (before)": _pre_ping_engine(url), "no pre-ping (now)": create_engine(url)}
    observer = create_engine(url, pool_size=1, application_name="observer")
    try:
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in engines}
        for engine in engines.values():
            await _units(engine, 200)  # warm: connections made, statements prepared
        for _ in range(rounds):
            for name, engine in engines.items():
                before = await _transactions(observer)
                cpu, wall = await _units(engine, units)
                # An idle backend reports its counters within PGSTAT_IDLE_INTERVAL (10 s): no condition to wait
                # for, the server says nothing when it has flushed.
                await asyncio.sleep(11.0)
                after = await _transactions(observer)
                results[name].append((cpu, wall, (after - before - 1) / units))
        for name, runs in results.items():
            cpu = statistics.median(r[0] for r in runs)
            wall = statistics.median(r[1] for r in runs)
            tx = statistics.median(r[2] for r in runs)
            print(f"{name:>20}: {cpu:7.0f} µs CPU, {wall:7.0f} µs wall, {tx:4.2f} server transactions per unit")
    finally:
        for engine in engines.values():
            await engine.dispose()
        await observer.dispose()


async def _first_after_restart(url: str, cluster: PostgresCluster) -> None:
    engines = {
        "pre-ping (before)": _pre_ping_engine(url),
        "no pre-ping (now)": create_engine(url),
        "neither": create_async_engine(url, pool_size=10, max_overflow=10),
    }
    try:
        for engine in engines.values():
            await _units(engine, 5)
        await asyncio.to_thread(cluster.stop)
        await asyncio.to_thread(cluster.start)
        for name, engine in engines.items():
            try:
                await _units(engine, 1)
                print(f"{name:>20}: first unit after a server restart succeeded")
            except Exception as exc:
                print(f"{name:>20}: first unit after a server restart FAILED ({type(exc).__name__})")
    finally:
        for engine in engines.values():
            await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="checkout-micro-") as folder:
        cluster = PostgresCluster(Path(folder), port=free_port())
        cluster.start()
        try:
            asyncio.run(_measure(cluster.url, args.units, args.rounds))
            asyncio.run(_first_after_restart(cluster.url, cluster))
        finally:
            cluster.destroy()


if __name__ == "__main__":
    main()
