"""In-process: what a pool checkout costs with SQLAlchemy's ``pool_pre_ping`` (what every pool had) against the
services' pools now (services/common/db.py: no pre-ping, a closed connection refused at checkout from the
driver's own state). One unit is what a consumer poll or a request does to the pool: check a connection out,
run one statement in a transaction, give it back. Alternated in one process on a PostgreSQL of its own, so a
busy machine slows both alike. The pre-ping is a transaction of its own (SQLAlchemy's asyncpg dialect sends
BEGIN, ``;``, ROLLBACK: three round trips per checkout). Then the server is restarted and the first unit on
each pool is tried once: with neither pre-ping nor the checkout check, it fails.

    .venv/bin/python -m bench.checkout_micro [--units 2000] [--rounds 3]
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


async def _units(engine: AsyncEngine, n: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per unit."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        async with engine.begin() as conn:
            await conn.execute(sql("SELECT 1"))
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


async def _measure(url: str, units: int, rounds: int) -> None:
    engines = {"pre-ping (before)": _pre_ping_engine(url), "no pre-ping (now)": create_engine(url)}
    try:
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in engines}
        for engine in engines.values():
            await _units(engine, 200)  # warm: connections made, statements prepared
        for _ in range(rounds):
            for name, engine in engines.items():
                results[name].append(await _units(engine, units))
        for name, runs in results.items():
            cpu = statistics.median(r[0] for r in runs)
            wall = statistics.median(r[1] for r in runs)
            print(f"{name:>20}: {cpu:7.0f} µs CPU, {wall:7.0f} µs wall per unit (median of {len(runs)} rounds)")
    finally:
        for engine in engines.values():
            await engine.dispose()


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
    parser.add_argument("--rounds", type=int, default=3)
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
