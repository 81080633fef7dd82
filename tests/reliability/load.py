"""A steady load of department reports, as a careful department client sends them: every record is
retried with the same id until the exchange answers 202 or 200 (a 503, a dropped connection or a
refused one are retried after a short pause). What counts afterwards is the set of accepted ids."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests import factories


@dataclass
class LoadResult:
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # record id → record
    retries: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


class SteadyLoad:
    """Posts `rate` records per second to ingest from a background task until stopped."""

    def __init__(
        self, ingest_url: str, token: str, *, id_prefix: str, rate: float = 40.0, department: str = "AMR"
    ) -> None:
        self.id_prefix = id_prefix
        self._url = ingest_url
        self._headers = {"Authorization": f"Bearer {token}"}
        self._rate = rate
        self._department = department
        self.result = LoadResult()
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SteadyLoad:
        self._client = httpx.AsyncClient(base_url=self._url, timeout=httpx.Timeout(10.0))
        self._runner = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Stop sending new records and wait until every record sent so far is accepted."""
        self._stop.set()
        if self._runner is not None:
            await self._runner
            self._runner = None
        if self._tasks:
            await asyncio.wait_for(asyncio.gather(*self._tasks), timeout=180)
        await self._client.aclose()

    async def wait_for(self, accepted: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.result.accepted) < accepted:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.result.accepted)} of {accepted} records accepted in {timeout}s")
            await asyncio.sleep(0.05)

    async def _run(self) -> None:
        interval = 1.0 / self._rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            record = factories.penalty(department=self._department)
            record["id"] = f"{self.id_prefix}{len(self._tasks) + len(self.result.accepted)}-{record['id'][-12:]}"
            task = asyncio.create_task(self._deliver(record))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            next_at += interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, next_at - time.monotonic()))

    async def _deliver(self, record: dict[str, Any]) -> None:
        while True:
            try:
                response = await self._client.post("/v1/records", json=record, headers=self._headers)
                status = response.status_code
            except httpx.TransportError:
                status = 0
            self.result.statuses[status] = self.result.statuses.get(status, 0) + 1
            if status in (200, 202):
                self.result.accepted[record["id"]] = record
                return
            if status not in (0, 503):
                raise AssertionError(f"record {record['id']} refused with {status}: {response.text}")
            self.result.retries += 1
            await asyncio.sleep(0.2)
