"""Webhook delivery: CloudEvents 1.0 HTTP binary mode, signed per Standard Webhooks (docs/webhooks.md).

A claimer leases due deliveries (the head of each (subscription, subject) queue) up to the free slots,
a fixed pool of sender tasks (one per slot) sends them, and a writer records the outcomes in batches,
leasing in the same transaction each delivered head's successor (one commit per delivery cycle). A
redirect is not followed (a subscriber registers its final URL), a certificate must verify, a request has
a timeout, and no cookie is kept (one subscriber's cookies never reach another on the same host).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook
from yarl import URL

from services.bridge import store
from services.bridge.rules.backoff import Schedule
from services.bridge.secret_box import SecretBox
from services.bridge.settings import BridgeSettings
from services.bridge.wakeup import Wakeup
from services.common.clock import Clock
from services.common.envelope import dumps

log = logging.getLogger(__name__)


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(ca_file)
    return context


# CloudEvents HTTP binding §3.1.3.2: percent-encode what is not printable ASCII (and '%', '"').
_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '%"') + " "
_HEADER_PLAIN = frozenset(_HEADER_SAFE)


def _header(value: str) -> str:
    if _HEADER_PLAIN.issuperset(value):  # nearly every id and subject: nothing to encode
        return value
    return quote(value, safe=_HEADER_SAFE)


def signed_request(row: Any, signer: Webhook, now: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery (binary content mode, Standard Webhooks signature). `row.data`
    is the event's data, or its JSON text as the claim reads it (no decoding and encoding again per send)."""
    body = row.data.encode() if isinstance(row.data, str) else dumps(row.data)
    stamp = datetime.fromtimestamp(int(now.timestamp()), UTC)
    headers = {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": _header(row.event_id),
        "ce-source": _header(row.source),
        "ce-type": row.type,
        "ce-subject": _header(row.subject),
        "ce-time": row.time.isoformat(),
        "webhook-id": _header(row.event_id),
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signer.sign(_header(row.event_id), stamp, body),
    }
    return body, headers


@dataclass
class Outcome:
    row: Any
    at: datetime
    status: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def describe_failure(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return f"timeout: no answer within {timeout:g}s ({type(exc).__name__})"
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(
        exc, ssl.SSLError | aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError
    ):
        return f"tls: the endpoint's certificate does not verify ({text[:200]})"
    return f"connection: {text[:300]}"


class Dispatcher:
    def __init__(self, engine: AsyncEngine, settings: BridgeSettings, clock: Clock, wake: Wakeup) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._wake = wake
        self.schedule = Schedule(
            base_seconds=settings.webhook_retry_base_seconds,
            cap_seconds=settings.webhook_retry_cap_seconds,
            pause_after=timedelta(hours=settings.webhook_pause_after_hours),
        )
        self._signers: dict[str, Webhook] = {}
        self._box = SecretBox.from_text(settings.secrets_key_text())
        self._urls: dict[str, URL] = {}
        self._todo: asyncio.Queue[Any] = asyncio.Queue()
        self._results: asyncio.Queue[Outcome] = asyncio.Queue()
        self._free = settings.webhook_concurrency
        self._progress = asyncio.Event()
        self.sent_total = 0

    def _signer(self, stored: str) -> Webhook:
        """The signer of a subscription's secret as stored (sealed, services/bridge/secret_box.py): opened
        once per subscription and kept."""
        signer = self._signers.get(stored)
        if signer is None:
            signer = self._signers[stored] = Webhook(self._box.open(stored))
        return signer

    def _url(self, url: str) -> URL:
        parsed = self._urls.get(url)
        if parsed is None:  # parsed once per endpoint, not once per delivery
            parsed = self._urls[url] = URL(url)
        return parsed

    async def run(self, stop: asyncio.Event) -> None:
        s = self._settings
        verify = ssl_context(str(s.webhook_ca_file) if s.webhook_ca_file else None)
        # One client for every delivery: connections are kept alive and reused per endpoint (up to the
        # concurrency in all); no proxy from the environment, no redirect followed (below).
        connector = aiohttp.TCPConnector(limit=s.webhook_concurrency, limit_per_host=0, ssl=verify)
        async with aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=s.webhook_timeout_seconds),
            trust_env=False,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        ) as client:
            tasks = [asyncio.create_task(self._sender(client)) for _ in range(s.webhook_concurrency)]
            tasks.append(asyncio.create_task(self._write(stop)))
            try:
                await self._claim(stop)
            finally:
                for task in tasks:
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=self._settings.webhook_timeout_seconds * 3 + 30)

    async def _claim(self, stop: asyncio.Event) -> None:
        lease = self._lease
        # Claim in batches: with most slots busy, wait for a few to free up rather than paying a claim
        # query for every single delivery that finishes.
        batch = max(1, self._settings.webhook_concurrency // 8)
        while not stop.is_set():
            if self._free <= 0 or (self._free < batch and self._free < self._settings.webhook_concurrency):
                self._progress.clear()
                await self._progress.wait()
                continue
            now = self._clock.now()
            async with self._engine.begin() as conn:
                rows = await store.claim_deliveries(conn, now, now + lease, min(self._free, 1000))
            if not rows:
                self._progress.clear()
                waiters = [
                    asyncio.create_task(self._progress.wait()),
                    asyncio.create_task(self._wake.wait(self._settings.idle_seconds)),
                ]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
                continue
            self._free -= len(rows)
            for row in rows:
                self._todo.put_nowait(row)

    async def _sender(self, client: aiohttp.ClientSession) -> None:
        """One slot: sends claimed deliveries one after another (a fixed pool, not a task per delivery)."""
        while True:
            row = await self._todo.get()
            self._results.put_nowait(await self._send(client, row))

    async def _send(self, client: aiohttp.ClientSession, row: Any) -> Outcome:
        started = time.perf_counter()
        at = self._clock.now()
        status: int | None = None
        error: str | None = None
        try:
            body, headers = signed_request(row, self._signer(row.secret), datetime.now(UTC))
            async with client.post(self._url(row.url), data=body, headers=headers, allow_redirects=False) as response:
                status = response.status
                if 300 <= status < 400:
                    error = f"redirect {status} to {response.headers.get('location', '?')} not followed"
                elif not 200 <= status < 300:
                    text = (await response.content.read(200)).decode("utf-8", "replace")
                    error = f"HTTP {status}: {text}"
                else:
                    await response.read()  # drain it, so the connection goes back to the pool
        except Exception as exc:  # every failure of one request is that delivery's failed attempt
            error = describe_failure(exc, self._settings.webhook_timeout_seconds)
        return Outcome(row, at, status, error, int((time.perf_counter() - started) * 1000))

    async def _write(self, stop: asyncio.Event) -> None:
        while True:
            batch = [await self._results.get()]
            while not self._results.empty() and len(batch) < 2000:
                batch.append(self._results.get_nowait())
            successors: list[Any] = []
            try:
                successors = await self._record(batch)
            except Exception:
                # Not recorded: the leases run out and these deliveries go again (duplicates, never losses).
                log.exception("could not record webhook outcomes; they will be retried after their lease")
            # A delivered head's successor was leased with the record (one commit per cycle): it takes
            # the slot its predecessor leaves.
            self._free += len(batch) - len(successors)
            for row in successors:
                self._todo.put_nowait(row)
            self._progress.set()

    async def _record(self, batch: list[Outcome]) -> list[Any]:
        """Record a batch of outcomes; the successors it leased (each a delivered head's next delivery)."""
        delivered: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        to_pause: dict[str, str] = {}
        for o in batch:
            n = o.row.attempts + 1
            base = {"id": o.row.id, "n": n, "at": o.at, "status": o.status, "duration_ms": o.duration_ms}
            if o.ok:
                delivered.append({**base, "error": None})
                continue
            failed.append({**base, "error": o.error, "next": self.schedule.next_attempt(n, o.at)})
            first = o.row.first_failed_at or o.at
            if self.schedule.should_pause(first, o.at):
                to_pause[o.row.subscription_id] = (
                    f"暂停推送：事件 {o.row.event_id} 自 {first.isoformat()} 起投递失败 (failing since then; "
                    f"last error: {o.error})"
                )
        now = self._clock.now()
        async with self._engine.begin() as conn:
            successors = await store.record_attempts(conn, delivered, failed, now=now, lease_until=now + self._lease)
            for sub_id, reason in to_pause.items():
                if await store.pause(conn, sub_id, self._clock.now(), reason):
                    log.warning("webhook subscription paused", extra={"subscription": sub_id, "reason": reason})
        self.sent_total += len(delivered)
        # A successor of a subscription paused just now stays leased and parked: it goes after its lease
        # once the subscription is resumed.
        return [row for row in successors if row.subscription_id not in to_pause]
