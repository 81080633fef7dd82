"""Ingest as several worker processes on one port (INGEST_WORKERS): `/metrics` adds up what every worker
counted, and the guarantees hold across workers (a 202 is durable, one chain per department, every receipt
verifiable alone, every record relayed to Kafka)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text

from deploy.processes import free_port
from deploy.stack import Stack
from services.common.db import create_engine
from services.ingest.receipts import verify
from tests import factories
from tests.helpers import eventually, find_on_topic, header

INSTANCE = 5
WORKERS = 2
DEPARTMENT = "HOUSING"
POSTED = re.compile(
    r'^exchange_http_requests_total\{method="POST",route="/v1/records",service="ingest",status="202"\} (\S+)$',
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def workers(
    stack: Stack, tokens: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """Ingest with two worker processes; the metrics folder is given, so the test can read each worker's file."""
    port = free_port()
    folder = tmp_path_factory.mktemp("ingest-metrics")
    stack.start_service(
        "ingest",
        instance=INSTANCE,
        port=port,
        env={"INGEST_WORKERS": str(WORKERS), "PROMETHEUS_MULTIPROC_DIR": str(folder)},
    )
    try:
        stack.wait_ready("ingest", instance=INSTANCE, port=port)
        yield f"http://127.0.0.1:{port}", folder
    finally:
        stack.stop_service("ingest", instance=INSTANCE)


def posted_by_worker(folder: Path) -> dict[int, float]:
    """202 answers to POST /v1/records counted by each worker process, from its own counter file."""
    counts: dict[int, float] = {}
    for path in folder.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for metric in MultiProcessCollector.merge([str(path)], accumulate=False):
            for sample in metric.samples:
                labels = sample.labels
                if (
                    sample.name == "exchange_http_requests_total"
                    and labels.get("route") == "/v1/records"
                    and labels.get("status") == "202"
                ):
                    counts[pid] = counts.get(pid, 0) + sample.value
    return counts


async def post_until_both_workers_answered(
    url: str, folder: Path, token: str, *, department: str, at_most: int = 600
) -> list[dict[str, Any]]:
    """POST records, each on a new connection and 16 at a time, until both workers have answered some
    (the kernel hands a new connection to whichever worker accepts first)."""
    receipts: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        while len(receipts) < at_most:
            answers = await asyncio.gather(
                *(
                    client.post("/v1/records", json=factories.penalty(department=department), headers=headers)
                    for _ in range(16)
                )
            )
            for answer in answers:
                assert answer.status_code == 202, answer.text
                receipts.append(answer.json()["receipt"])
            counts = posted_by_worker(folder)
            if len(counts) == WORKERS and all(counts.values()):
                return receipts
    raise AssertionError(f"{at_most} records did not reach both workers: {posted_by_worker(folder)}")


async def test_metrics_add_up_over_worker_processes(workers: tuple[str, Path], tokens: dict[str, str]) -> None:
    url, folder = workers
    async with httpx.AsyncClient(base_url=url) as client:
        before = POSTED.search((await client.get("/metrics")).text)
        start = float(before.group(1)) if before else 0.0
        receipts = await post_until_both_workers_answered(url, folder, tokens["TOKEN_AMR"], department="AMR")

        async def total() -> float | None:
            # A worker counts a request once its answer is sent, so the last few may lag the client.
            found = POSTED.search((await client.get("/metrics")).text)
            value = float(found.group(1)) if found else 0.0
            return value if value == start + len(receipts) else None

        assert await eventually(total, timeout=10, what="/metrics to count every 202") == start + len(receipts)
    per_worker = posted_by_worker(folder)
    assert len(per_worker) == WORKERS
    assert all(per_worker.values())
    assert sum(per_worker.values()) == start + len(receipts)


async def test_chain_durability_and_delivery_hold_across_worker_processes(
    workers: tuple[str, Path], tokens: dict[str, str], stack: Stack
) -> None:
    url, folder = workers
    receipts = await post_until_both_workers_answered(url, folder, tokens[f"TOKEN_{DEPARTMENT}"], department=DEPARTMENT)

    # One chain for the department, whichever worker answered: consecutive seqs, each linked to the previous.
    chain = sorted(receipts, key=lambda r: r["seq"])
    assert [r["seq"] for r in chain] == list(range(chain[0]["seq"], chain[0]["seq"] + len(chain)))
    assert [r["prev_hash"] for r in chain[1:]] == [r["hash"] for r in chain[:-1]]
    async with httpx.AsyncClient(base_url=url) as client:
        key = load_pem_public_key((await client.get("/v1/receipts/public-key")).content)
    assert all(verify(r, key) for r in chain)  # type: ignore[arg-type]

    # Every 202 is stored, with the receipt its caller got.
    engine = create_engine(stack.database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT record_id, seq FROM ingest.records WHERE department = :d AND record_id = ANY(:ids)"),
                {"d": DEPARTMENT, "ids": [r["record_id"] for r in chain]},
            )
            stored = {row.record_id: row.seq for row in rows}
    finally:
        await engine.dispose()
    assert stored == {r["record_id"]: r["seq"] for r in chain}

    # The one relay that leads sends every record to Kafka, whichever worker stored it.
    waiting = {f"{DEPARTMENT}/{r['record_id']}" for r in chain}

    def seen(message: Any) -> bool:
        waiting.discard(header(message, "ce_id") or "")
        return not waiting

    await find_on_topic(stack.bootstrap, stack.config.topic_prefix + "records.acts", seen, timeout=60)
    assert orjson.dumps(sorted(waiting)) == b"[]"
