"""A short-lived, per-process cache of the anonymous public reads (issue 19): the search API, one record's
public JSON, the portal's home, subject, list, commitment and record pages.

It can never serve what a committed change took off: every change to ``publish.disclosures`` (the only
table those reads read) bumps a generation in the same transaction (a trigger on the table, migration
``publish_0008_public_generation``), and every request first reads the current generation (one prepared
statement) and is answered from the cache only by an answer computed at that very generation; otherwise
the answer is computed again. The generation is read *before* the answer is computed, so an answer is
labelled with a generation no newer than the data it shows; it is served only while no change has committed
since that label, i.e. while it still equals what a fresh computation would show. Why not LISTEN/NOTIFY:
a notification arrives after the COMMIT, and a request in between would be served the withdrawn record.

Only anonymous answers are kept (a request with an ``Authorization`` header is computed and not kept, even
on a public route), only the statuses that are a function of the public rows (200, 404, 410; never a 503),
bounded by the size of their bodies (least recently used first out). ``X-Cache: hit`` / ``miss`` says what
happened; ``exchange_public_cache_hits_total`` / ``exchange_public_cache_misses_total`` count it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from fastapi import Request, Response
from prometheus_client import Counter

from services.publish.store import PublicReads, ReadsUnavailable

HITS = Counter("exchange_public_cache_hits_total", "Public reads answered from the cache", ["page"])
MISSES = Counter("exchange_public_cache_misses_total", "Public reads computed (not in the cache, or stale)", ["page"])
KEPT_STATUSES = frozenset({200, 404, 410})
Generation = tuple[str, int]
"""(epoch of the counter's table, count of committed changes): equal means no change in between."""


@dataclass(frozen=True, slots=True)
class _Answer:
    generation: Generation
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]


class PublicCache:
    """LRU of answers by key, bounded by the bytes of their bodies; ``max_bytes == 0`` turns it off."""

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._answers: OrderedDict[Hashable, _Answer] = OrderedDict()
        self._bytes = 0
        self._latest: Generation | None = None
        self._next_read: asyncio.Future[Generation | None] | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: Hashable, generation: Generation) -> _Answer | None:
        answer = self._answers.get(key)
        if answer is None or answer.generation != generation:
            return None
        self._answers.move_to_end(key)
        return answer

    def _seen(self, generation: Generation) -> None:
        """A counter gone back within its epoch (a database restored under the running service): forget all."""
        latest = self._latest
        if latest is not None and latest[0] == generation[0] and generation[1] < latest[1]:
            self._answers.clear()
            self._bytes = 0
        self._latest = generation

    def put(self, key: Hashable, answer: _Answer) -> None:
        if len(answer.body) > self.max_bytes // 8:  # one huge answer must not flush everything else
            return
        old = self._answers.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)
            # A request that read the generation later may have stored first: keep the newer answer.
            epoch, n = answer.generation
            if old.generation[0] == epoch and old.generation[1] > n:
                answer = old
        self._answers[key] = answer
        self._bytes += len(answer.body)
        while self._bytes > self.max_bytes:
            _, dropped = self._answers.popitem(last=False)
            self._bytes -= len(dropped.body)

    async def generation(self, read: Callable[[], Awaitable[Generation | None]]) -> Generation | None:
        """The current generation, from a read that *started after this call*: requests that arrive while a
        read is running share the next one (one statement per round trip, whatever the concurrency). A read
        already running when a request arrives may have taken its snapshot before a commit the request must
        see, so it is never shared with that request."""
        if self._next_read is None:
            self._next_read = asyncio.get_running_loop().create_future()
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read_generations(read))
        return await asyncio.shield(self._next_read)

    async def _read_generations(self, read: Callable[[], Awaitable[Generation | None]]) -> None:
        while (waiting := self._next_read) is not None:
            self._next_read = None  # whoever arrives from now on waits for the next read
            try:
                waiting.set_result(await read())
            except Exception as exc:  # every waiter gets it (ReadsUnavailable: each computes, answers 503)
                waiting.set_exception(exc)
                waiting.exception()  # retrieved here too: all its waiters may have gone (disconnected)
            except BaseException:  # cancelled (shutdown): nobody may wait forever
                for pending in (waiting, self._next_read):
                    if pending is not None and not pending.done():
                        pending.cancel()
                self._next_read = None
                raise

    async def serve(
        self,
        request: Request,
        reads: PublicReads,
        page: str,
        key: Hashable,
        compute: Callable[[], Awaitable[Response]],
    ) -> Response:
        """The answer to an anonymous public read: from the cache when computed at the current generation,
        else ``compute()`` (kept when it may be)."""
        if not self.enabled or "authorization" in request.headers:
            return await compute()
        try:
            generation = await self.generation(reads.generation)
        except ReadsUnavailable:
            return await compute()  # it answers the database's unavailability as the route does (503)
        full_key = (page, key)
        if generation is not None:
            self._seen(generation)
            answer = self.get(full_key, generation)
            if answer is not None:
                HITS.labels(page).inc()
                response = Response(status_code=answer.status)
                response.body = answer.body
                response.raw_headers = [*answer.headers, (b"x-cache", b"hit")]
                return response
        MISSES.labels(page).inc()
        response = await compute()
        if generation is not None and response.status_code in KEPT_STATUSES:
            body = bytes(response.body)
            self.put(full_key, _Answer(generation, response.status_code, body, list(response.raw_headers)))
        response.raw_headers.append((b"x-cache", b"miss"))
        return response
