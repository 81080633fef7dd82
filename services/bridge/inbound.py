"""Inbound national lists: a `cx-national/1` file (docs/bridge-wire-format.md §4) is kept row by row in
PostgreSQL before anything else happens, then each pending row goes to ingest's `POST /v1/records:batch`
under the national-channel credential of its receiving department, so the entry is validated, receipted,
signed and chained like any record and reaches grading, sanctions and publish on the record topics.

Nothing is lost: a row stays `pending` (with its last error) until ingest has answered it, and is retried
with back-off (ingest down, a department without a national credential configured). Nothing is doubled:
the record id is the entry's (`nat:<id>`), so ingest's idempotency turns a repeat into `duplicate`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import defaultdict
from datetime import timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from services.bridge import store
from services.bridge.rules import inbound as rules
from services.bridge.rules.backoff import Schedule
from services.bridge.settings import BridgeSettings
from services.bridge.wakeup import Wakeup
from services.common.clock import Clock

log = logging.getLogger(__name__)


class InboundImporter:
    def __init__(self, engine: AsyncEngine, settings: BridgeSettings, clock: Clock, wake: Wakeup) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._wake = wake
        self.schedule = Schedule(
            base_seconds=settings.province_retry_base_seconds,
            cap_seconds=settings.province_retry_cap_seconds,
            pause_after=timedelta(days=36500),
        )
        self._client: httpx.AsyncClient | None = None
        self._lock = asyncio.Lock()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._settings.ingest_url or "http://ingest.invalid",
                timeout=self._settings.province_timeout_seconds,
                trust_env=False,
            )
        return self._client

    async def receive(self, body: Any, received_by: str, departments: Any, record_types: Any) -> str:
        """Keep a readable file (the caller checked `rules.file_problem`) and try its rows once; its id."""
        now = self._clock.now()
        file_id = f"inb_{now:%Y%m%d}_{secrets.token_hex(4)}"
        rows = rules.rows_of(body, departments, record_types)
        async with self._engine.begin() as conn:
            await store.insert_inbound(
                conn,
                {
                    "id": file_id,
                    "batch_id": body["batch_id"],
                    "received_at": now,
                    "received_by": received_by,
                    "rows": len(rows),
                },
                [
                    {
                        "file_id": file_id,
                        "n": r.n,
                        "row_id": r.row_id,
                        "list": r.list_name,
                        "department": r.department,
                        "record_type": r.record_type,
                        "subject": r.subject,
                        "envelope": orjson.dumps(r.envelope).decode() if r.envelope is not None else None,
                        "state": r.state,
                        "errors": orjson.dumps([e.as_dict() for e in r.errors]).decode(),
                        "now": now,
                        "done_at": None if r.state == "pending" else now,
                    }
                    for r in rows
                ],
            )
        await self.drain()
        return file_id

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                if not await self.drain():
                    await self._wake.wait(self._settings.idle_seconds * 5)
        finally:
            if self._client is not None:
                await self._client.aclose()

    async def drain(self) -> int:
        """Send every due pending row to ingest once; the number sent."""
        if not self._settings.ingest_url:
            return 0
        sent = 0
        async with self._lock:  # the request's first try and the background loop take turns
            while True:
                n = await self._once()
                sent += n
                if n == 0:
                    return sent

    async def _once(self) -> int:
        now = self._clock.now()
        lease = now + timedelta(seconds=self._settings.province_timeout_seconds * 2 + 30)
        async with self._engine.begin() as conn:
            claimed = await store.claim_inbound(conn, now, lease, 500)
        if not claimed:
            return 0
        by_department: dict[str, list[Any]] = defaultdict(list)
        for row in claimed:
            by_department[row.department].append(row)
        answered: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for department, rows in by_department.items():
            results, error = await self._post(department, [r.envelope for r in rows])
            at = self._clock.now()
            for i, row in enumerate(rows):
                result = results.get(i) if results is not None else None
                if result is None:
                    failed.append(
                        {
                            "file_id": row.file_id,
                            "n": row.n,
                            "error": error or "ingest did not answer this row",
                            "next": self.schedule.next_attempt(row.attempts + 1, at),
                        }
                    )
                    continue
                state, receipt, problems = rules.ingest_answer(row.n, int(result.get("status", 0)), result)
                answered.append(
                    {
                        "file_id": row.file_id,
                        "n": row.n,
                        "state": state,
                        "receipt": orjson.dumps(receipt).decode() if receipt is not None else None,
                        "errors": orjson.dumps([p.as_dict() for p in problems]).decode(),
                        "at": at,
                    }
                )
        async with self._engine.begin() as conn:
            await store.inbound_answered(conn, answered)
            await store.inbound_failed(conn, failed)
        if failed:
            log.warning("national list rows not yet imported; retried", extra={"rows": len(failed)})
        # Rows that failed wait for their back-off: only answered ones count as progress for the drain loop.
        return len(answered)

    async def _post(self, department: str, envelopes: list[Any]) -> tuple[dict[int, dict[str, Any]] | None, str | None]:
        token = self._settings.national_tokens.get(department)
        if token is None:
            return None, f"未配置部门 {department} 的国家级名单通道凭据 (BRIDGE_NATIONAL_TOKENS has no {department})"
        try:
            response = await self._http().post(
                "/v1/records:batch",
                json={"records": envelopes},
                headers={"authorization": f"Bearer {token.get_secret_value()}"},
            )
        except httpx.HTTPError as exc:
            return None, f"ingest unreachable: {type(exc).__name__}: {str(exc)[:200]}"
        if response.status_code != 207:
            return None, f"ingest answered HTTP {response.status_code}: {response.text[:200]}"
        results = response.json().get("results", [])
        return {int(r["index"]): r for r in results if isinstance(r, dict) and "index" in r}, None
