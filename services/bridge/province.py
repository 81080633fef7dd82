"""Outbound to the provincial platform: service push with per-record state and retries, the dated file
export, and the daily reconciliation report (docs/bridge-wire-format.md)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from services.bridge import store
from services.bridge.rules.backoff import Schedule
from services.bridge.settings import BridgeSettings
from services.bridge.wakeup import Wakeup
from services.common.clock import Clock, shanghai_date

log = logging.getLogger(__name__)


class ProvincePusher:
    def __init__(self, engine: AsyncEngine, settings: BridgeSettings, clock: Clock, wake: Wakeup) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._wake = wake
        self.schedule = Schedule(
            base_seconds=settings.province_retry_base_seconds,
            cap_seconds=settings.province_retry_cap_seconds,
            pause_after=timedelta(days=36500),  # never paused: the report shows what is late
        )

    async def run(self, stop: asyncio.Event) -> None:
        s = self._settings
        if not s.province_url:
            log.info("BRIDGE_PROVINCE_URL is not set: province records stay pending (the dated export has them)")
            await stop.wait()  # a finished background task would make the service unready
            return
        headers = {"authorization": f"Bearer {s.province_token.get_secret_value()}"} if s.province_token else {}
        async with httpx.AsyncClient(
            base_url=s.province_url, timeout=s.province_timeout_seconds, headers=headers, trust_env=False
        ) as client:
            while not stop.is_set():
                if not await self.push_once(client):
                    await self._wake.wait(s.idle_seconds)

    async def push_once(self, client: httpx.AsyncClient) -> int:
        """Send one batch of due records; the number sent (0: nothing was due)."""
        now = self._clock.now()
        lease = now + timedelta(seconds=self._settings.province_timeout_seconds * 2 + 30)
        async with self._engine.begin() as conn:
            rows = await store.claim_province(conn, now, lease, self._settings.province_batch)
        if not rows:
            return 0
        error: str | None = None
        results: dict[str, dict[str, Any]] = {}
        try:
            response = await client.post("/v1/records", json={"records": [r.payload for r in rows]})
            if response.status_code == 200:
                results = {str(x.get("id")): x for x in response.json().get("results", []) if isinstance(x, dict)}
            else:
                error = f"HTTP {response.status_code}: {response.text[:200]}"
        except (httpx.HTTPError, ValueError) as exc:
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
        at = self._clock.now()
        answered, failed = [], []
        for r in rows:
            result = results.get(r.event_id)
            status = result.get("status") if result else None
            if status in ("accepted", "refused"):
                state = "acknowledged" if status == "accepted" else "refused"
                answered.append(
                    {"id": r.event_id, "state": state, "at": at, "answer": result.get("reason") if result else None}
                )
            else:
                reason = error or "the province's answer did not name this record"
                failed.append(
                    {"id": r.event_id, "error": reason, "next": self.schedule.next_attempt(r.attempts + 1, at)}
                )
        async with self._engine.begin() as conn:
            await store.province_answered(conn, answered)
            await store.province_failed(conn, failed)
        if failed:
            log.warning("province push failed for some records", extra={"failed": len(failed), "error": error})
        return len(rows)


def export_lines(rows: list[dict[str, Any]]) -> bytes:
    """The dated file (GB/T 39443 file interface): one national-format record per line, in order."""
    return b"".join(orjson.dumps(r["payload"], option=orjson.OPT_SORT_KEYS) + b"\n" for r in rows)


def export_name(division: str, day: date) -> str:
    return f"{division}_{day.strftime('%Y%m%d')}_cx.jsonl"


def reconciliation(
    day: date, rows: list[dict[str, Any]], deadlines: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    """Counts sent, acknowledged, refused and still pending per (action, record type, department) of the
    day's records, and every withdrawal that missed its working-day deadline or still may."""
    groups: dict[tuple[str, str, str], dict[str, int]] = defaultdict(
        lambda: {"total": 0, "sent": 0, "acknowledged": 0, "refused": 0, "pending": 0}
    )
    for r in rows:
        g = groups[(r["action"], r["record_type"], r["department"])]
        g["total"] += 1
        g["sent"] += 1 if r["attempts"] > 0 else 0
        g[r["state"] if r["state"] in ("acknowledged", "refused") else "pending"] += 1
    today = shanghai_date(now)
    late = []
    for d in deadlines:
        answered_on = shanghai_date(d["answered_at"]) if d["answered_at"] else None
        if (answered_on is not None and answered_on > d["due_date"]) or (answered_on is None and today > d["due_date"]):
            late.append(
                {
                    "event_id": d["event_id"],
                    "department": d["department"],
                    "record_id": d["record_id"],
                    "event_date": d["event_date"].isoformat(),
                    "due_date": d["due_date"].isoformat(),
                    "reached_province": answered_on.isoformat() if answered_on else None,
                }
            )
    total = {k: sum(g[k] for g in groups.values()) for k in ("total", "sent", "acknowledged", "refused", "pending")}
    return {
        "date": day.isoformat(),
        "totals": total,
        "difference": total["pending"],
        "by_type": [
            {"action": a, "record_type": t, "department": dept, **counts}
            for (a, t, dept), counts in sorted(groups.items())
        ],
        "late_withdrawals": late,
        "not_delivered": [
            {"event_id": r["event_id"], "attempts": r["attempts"], "last_error": r["last_error"]}
            for r in rows
            if r["state"] not in ("acknowledged", "refused")
        ],
        "refused": [{"event_id": r["event_id"], "reason": r["answer"]} for r in rows if r["state"] == "refused"],
    }
