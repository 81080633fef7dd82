"""The commit point of ingest: validated records become durable, chained, signed and queued for Kafka.

One writer task per process takes whatever requests are waiting and commits them in ONE transaction
(group commit): the per-department chain heads are locked, duplicates resolved (same content → the
original receipt; different content → conflict), receipts built and signed, records and outbox rows
inserted. Only after PostgreSQL commits does any caller get its 202. If the transaction fails, every
caller in it gets `NotDurable` (→ 503 + Retry-After) and nothing of the batch is stored.

Every commit is bounded by `commit_timeout` (INGEST_COMMIT_TIMEOUT_SECONDS), so a full or stalled disk
gives the department a 503 in bounded time, never a hanging request:

- inside the transaction, `lock_timeout` and `statement_timeout` make PostgreSQL abort a statement that
  waits longer (a chain head held by a stalled transaction, a slow write): the transaction rolls back, so
  the answer "nothing was stored" (`database_slow`) is certain;
- the caller stops waiting after `commit_timeout` + 1 s in any case (a connection that hangs, a queue
  behind a stuck commit). Its record is then never committed later: a queued record is dropped, and a
  batch with a caller that gave up is rolled back instead of committed (`database_slow`, certain);
- except when COMMIT was already sent: PostgreSQL does not cancel a COMMIT (one waiting for a synchronous
  standby or an fsync cannot be taken back), so the outcome is not known (`outcome_unknown`): the batch may
  still commit. The department retries with the same id and gets the original receipt (200) if it did, a
  new one (202) if it did not — never two records;
- SQLSTATE class 53 (insufficient_resources: 53100 disk_full …) is `database_full`, with a longer
  Retry-After: space has to come back first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg

from services.common import request_id
from services.common.calendar import WorkingDayCalendar, is_reported_late
from services.common.catalogue import RecordType, TypeVersion
from services.common.clock import Clock
from services.common.envelope import CloudEvent, dumps
from services.common.http import SLOW_SQLSTATES, sqlstate
from services.common.outbox import outbox_row
from services.ingest import store
from services.ingest.receipts import ReceiptSigner, hashes_of, iso
from services.ingest.rules import SERIOUS_LISTING
from services.ingest.validation import Problem

log = logging.getLogger(__name__)


class NotDurable(RuntimeError):
    """The record could not be committed (or its commit was not confirmed in time); the client should
    retry with the same id. `code`, `message` and `retry_after` are the 503 answer."""

    def __init__(self, code: str, message: str, *, retry_after: int = 2, cause: str = "") -> None:
        super().__init__(cause or code)
        self.code = code
        self.message = message
        self.retry_after = retry_after


class _CommitUnconfirmed(RuntimeError):
    """COMMIT was sent but its answer never came (connection lost): the batch may or may not be stored."""


class _CallerGaveUp(RuntimeError):
    """A caller of the batch stopped waiting before COMMIT: the batch is rolled back, not stored."""


def not_durable(exc: BaseException, *, commit_timeout: float) -> NotDurable:
    """The 503 a failed group commit gives each of its callers."""
    state = sqlstate(exc)
    retry = "Retry with the same id"
    if isinstance(exc, _CommitUnconfirmed):
        return NotDurable(
            "outcome_unknown",
            "the database did not confirm the commit; the record may or may not be stored. "
            f"{retry}: the original receipt comes back (200) if it was stored (结果未确认，请用同一编号重试)",
            retry_after=5,
            cause=type(exc).__name__,
        )
    if state is not None and state.startswith("53"):
        return NotDurable(
            "database_full",
            f"the database has no room to store the record (SQLSTATE {state}: disk full or out of resources); "
            f"nothing was stored. {retry} later (存储空间不足，稍后重试)",
            retry_after=30,
            cause=state,
        )
    if state in SLOW_SQLSTATES or isinstance(exc, _CallerGaveUp):
        why = f"SQLSTATE {state}: a slow disk or a held lock" if state else "a slow disk or a stuck earlier commit"
        return NotDurable(
            "database_slow",
            f"the database could not store the record within {commit_timeout:g} s ({why}); nothing was stored. "
            f"{retry} (数据库响应超时，稍后重试)",
            retry_after=5,
            cause=state or type(exc).__name__,
        )
    return NotDurable(
        "not_durable",
        f"the record could not be stored durably right now; nothing was kept. {retry} (稍后重试)",
        retry_after=2,
        cause=state or type(exc).__name__,
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int  # 202 accepted now, 200 accepted before with the same content, 409 same id, other content
    receipt: dict[str, Any] | None


@dataclass(slots=True)
class Pending:
    department: str
    record: dict[str, Any]
    record_type: RecordType
    type_version: TypeVersion
    warnings: tuple[Problem, ...]
    future: asyncio.Future[Outcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    committing: bool = False  # its batch's COMMIT was sent
    abandoned: bool = False  # its caller stopped waiting: never commit it unless COMMIT was already sent
    request_id: str | None = field(default_factory=request_id.current)  # into the CloudEvent (`requestid`)


class ReceiptWriter:
    def __init__(
        self,
        dsn: str,
        *,
        signer: ReceiptSigner,
        calendar: WorkingDayCalendar,
        clock: Clock,
        topic_name: Callable[[str], str],
        on_commit: Callable[[], None],
        reporting_days: int,
        max_batch: int = 2000,
        commit_timeout: float = 5.0,
    ) -> None:
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._signer = signer
        self._calendar = calendar
        self._clock = clock
        self._topic_name = topic_name
        self._on_commit = on_commit
        self._reporting_days = reporting_days
        self._max_batch = max_batch
        self._commit_timeout = commit_timeout
        # PostgreSQL aborts a statement at commit_timeout; the caller waits a little longer, so that in
        # the common case (a stalled statement) it gets the certain answer rather than "unknown".
        self._caller_timeout = commit_timeout + 1.0
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()

    async def submit(self, items: list[Pending]) -> list[Outcome]:
        """Queue items for the next group commit and wait for it; raises NotDurable if it failed or was
        not confirmed within the commit timeout."""
        for item in items:
            self._queue.put_nowait(item)
        # The wait is bounded by a timer that answers the unfinished items itself (`_expire`), not by a
        # timeout scope around a shielded wait: the same bound for half the event-loop work per request.
        expiry = asyncio.get_running_loop().call_later(self._caller_timeout, self._expire, items)
        try:
            if len(items) == 1:  # the usual POST waits on its own future: no gather per request
                return [await items[0].future]
            return list(await asyncio.gather(*(item.future for item in items)))
        finally:
            expiry.cancel()

    def _expire(self, items: list[Pending]) -> None:
        """The caller stops waiting. Runs on the event loop between two steps of the writer, so each item is
        either before its batch's last check (abandoned now: skipped if queued, its batch rolled back; the
        answer "nothing was stored" is certain) or past it (COMMIT sent: the outcome is unknown)."""
        cause = _CommitUnconfirmed() if any(item.committing for item in items) else _CallerGaveUp()
        for item in items:
            item.abandoned = True
            if not item.future.done():
                item.future.set_exception(not_durable(cause, commit_timeout=self._commit_timeout))

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._run(stop)
        finally:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._conn.close(), timeout=2.0)
                self._drop()

    async def _run(self, stop: asyncio.Event) -> None:
        while not (stop.is_set() and self._queue.empty()):
            try:
                first = await asyncio.wait_for(self._queue.get(), timeout=0.5)
            except TimeoutError:
                continue
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            batch = [item for item in batch if not item.abandoned]
            if not batch:
                continue
            try:
                outcomes = await self._commit(batch)
            except Exception as exc:
                failure = not_durable(exc, commit_timeout=self._commit_timeout)
                log.warning(
                    "group commit failed; callers get 503",
                    extra={
                        "records": len(batch),
                        "error": type(exc).__name__,
                        "sqlstate": sqlstate(exc),
                        "code": failure.code,
                    },
                )
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(
                            NotDurable(failure.code, failure.message, retry_after=failure.retry_after)
                        )
                continue
            for item, outcome in zip(batch, outcomes, strict=True):
                if not item.future.done():
                    item.future.set_result(outcome)
            self._on_commit()

    async def _connection(self) -> asyncpg.Connection:
        """The writer's own connection, kept open between batches: no pool, no pre-ping (a dead one shows
        itself on BEGIN, which `_begin` retries once on a fresh connection)."""
        if self._conn is None or self._conn.is_closed():
            self._conn = None
            self._conn = await asyncpg.connect(
                self._dsn,
                timeout=self._commit_timeout,
                server_settings={"application_name": "credit-exchange-ingest-writer", "timezone": "UTC"},
            )
        return self._conn

    async def _begin(self) -> asyncpg.Connection:
        # Bound every statement of this transaction (a lock wait, a write to a stalled disk); an aborted
        # statement rolls the whole batch back. SET LOCAL ends with the transaction. One round trip (simple
        # query protocol), and nothing of the batch has been sent yet, so a dead connection is retried once.
        limit = f"{max(1, round(self._commit_timeout * 1000))}ms"
        begin = f"BEGIN; SET LOCAL lock_timeout = '{limit}'; SET LOCAL statement_timeout = '{limit}'"
        for attempt in (1, 2):
            conn = await self._connection()
            try:
                await conn.execute(begin)
                return conn
            except (asyncpg.InterfaceError, asyncpg.ConnectionDoesNotExistError, OSError):
                self._drop()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    async def _rollback(self) -> None:
        """After a failed batch: end its transaction, or drop a connection that cannot say so in time."""
        conn = self._conn
        if conn is None or conn.is_closed():
            self._conn = None
            return
        try:
            async with asyncio.timeout(self._commit_timeout):
                if conn.is_in_transaction():
                    await conn.execute("ROLLBACK")
        except Exception:
            self._drop()

    async def _commit(self, batch: list[Pending]) -> list[Outcome]:
        try:
            return await self._commit_on(await self._begin(), batch)
        except BaseException:
            await self._rollback()
            raise

    async def _commit_on(self, conn: asyncpg.Connection, batch: list[Pending]) -> list[Outcome]:
        received_at = self._clock.now()
        outcomes: list[Outcome] = []
        heads = await store.lock_heads(conn, (item.department for item in batch))
        existing = await store.find_earlier(conn, ((i.department, i.record["id"]) for i in batch))
        accepted_now: dict[tuple[str, str], tuple[bytes, dict[str, Any]]] = {}
        new_rows: list[store.NewRecord] = []
        events: list[dict[str, object]] = []
        for item in batch:
            key = (item.department, item.record["id"])
            # The record's canonical JSON, made once: both hashes, the stored record and the event's payload.
            canonical = dumps(item.record)
            digest, record_digest = hashes_of(item.department, canonical)
            earlier = existing.get(key)
            if earlier is not None:
                outcomes.append(_repeat(digest, earlier.content_hash, earlier.receipt))
                continue
            if key in accepted_now:
                first_digest, first_receipt = accepted_now[key]
                outcomes.append(_repeat(digest, first_digest, first_receipt))
                continue
            head = heads[item.department]
            receipt = self._receipt(item, head, received_at, record_digest)
            receipt_json = dumps(receipt)  # stored, and in the event
            accepted_now[key] = (digest, receipt)
            decision = date.fromisoformat(item.record["decision_date"])
            new_rows.append(
                store.NewRecord(
                    item.department,
                    item.record["id"],
                    head.seq,
                    item.record_type.name,
                    item.type_version.version,
                    item.record["subject"]["code"],
                    decision,
                    digest,
                    receipt,
                    received_at,
                    item.record["data"].get("stage") if item.record_type.name == SERIOUS_LISTING else None,
                    item.record,
                    receipt_json,
                    canonical,
                )
            )
            event = self._event(item, receipt, b'{"receipt":' + receipt_json + b',"record":' + canonical + b"}")
            events.append(outbox_row(self._topic_name(item.record_type.topic), event))
            outcomes.append(Outcome(202, receipt))
        if new_rows:
            await store.write_batch(conn, new_rows, events, heads.values(), received_at)
        # No await between this check and COMMIT: a caller gives up either before (rolled back: it is
        # told "nothing was stored") or after (told "outcome unknown").
        if any(item.abandoned for item in batch):
            raise _CallerGaveUp()
        for item in batch:
            item.committing = True
        try:
            await conn.execute("COMMIT")
        except asyncpg.PostgresError as exc:
            if sqlstate(exc) is None:  # no answer from the server: it may have committed
                raise _CommitUnconfirmed(type(exc).__name__) from exc
            raise  # the server refused the commit: nothing is stored
        except (asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            self._drop()
            raise _CommitUnconfirmed(type(exc).__name__) from exc
        return outcomes

    def _receipt(self, item: Pending, head: store.ChainHead, received_at: Any, digest: str) -> dict[str, Any]:
        decision = date.fromisoformat(item.record["decision_date"])
        due: str | None = None
        provisional = False
        if item.record_type.disclosure:
            deadline = self._calendar.disclosure_deadline(decision)
            due, provisional = deadline.date.isoformat(), deadline.provisional
        head.seq += 1
        receipt: dict[str, Any] = {
            "record_id": item.record["id"],
            "department": item.department,
            "record_type": item.record_type.name,
            "seq": head.seq,
            "received_at": iso(received_at),
            "disclosure_due": due,
            "provisional": provisional,
            "reported_late": is_reported_late(
                self._calendar.reporting_deadline(decision, self._reporting_days), received_at
            ),
            "hash": digest,
            "prev_hash": head.head_hash,
            "warnings": [w.as_dict() for w in item.warnings],
            "key_id": self._signer.key_id,
        }
        receipt["signature"] = self._signer.sign(receipt)
        head.head_hash = digest
        return receipt

    def _event(self, item: Pending, receipt: dict[str, Any], value: bytes) -> CloudEvent:
        rt, version = item.record_type.name, item.type_version.version
        return _Serialised(
            id=f"{item.department}/{item.record['id']}",
            source=f"/departments/{item.department}",
            type=f"cn.credit.record.{rt}.v{version}",
            subject=item.record["subject"]["code"],
            time=self._clock.now(),
            data={"record": item.record, "receipt": receipt},
            dataschema=f"/v1/catalogue/{rt}/{version}",
            requestid=item.request_id,
            value=value,
        )


@dataclass(frozen=True, slots=True)
class _Serialised(CloudEvent):
    """A record's event whose payload the writer has already serialised: the canonical JSON of `{"receipt",
    "record"}` (sorted keys) put together from the receipt's and the record's own canonical JSON, which it
    makes anyway, byte for byte what `CloudEvent.kafka_value` would make again."""

    value: bytes = b""

    def kafka_value(self) -> bytes:
        return self.value


def _repeat(digest: bytes, earlier_digest: bytes, earlier_receipt: dict[str, Any]) -> Outcome:
    if digest == earlier_digest:
        return Outcome(200, earlier_receipt)
    return Outcome(409, None)
