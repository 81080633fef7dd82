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

Hits are answered before FastAPI's routing (``PublicCacheFastPath``, innermost of the middleware, so the
rate limiter, body limit and request metrics still see them): a kept answer is also indexed under the exact
raw path and query string of the request that computed it, and a later anonymous GET with that exact string
reads the generation the same way and is sent the answer if it is still current; anything else goes on to
the route untouched, which computes and keeps as before (reusing the generation the fast path just read).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from fastapi import Request, Response
from prometheus_client import Counter

from services.common.metrics import ASGIApp, Receive, Scope, Send
from services.publish.store import PublicReads, ReadsUnavailable

HITS = Counter("exchange_public_cache_hits_total", "Public reads answered from the cache", ["page"])
MISSES = Counter("exchange_public_cache_misses_total", "Public reads computed (not in the cache, or stale)", ["page"])
KEPT_STATUSES = frozenset({200, 404, 410})
Generation = tuple[str, int]
"""(epoch of the counter's table, count of committed changes): equal means no change in between."""
RawAnswer = tuple[int, list[tuple[bytes, bytes]], bytes]
"""(status, raw headers, body) of an answer computed outside FastAPI (``answer``)."""
RawKey = tuple[bytes, bytes]
"""(raw path, query string) exactly as the request sent them."""
MAX_RAW_KEY = 1024
"""Longer paths and queries are not indexed (always routed): the index's memory stays bounded."""
GENERATION_SCOPE_KEY = "publish.public_generation"
"""The generation the fast path read for a request it passed on: the route computes under it."""


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
        # raw path and query → (page, full key, the matched route for the request metrics); LRU, bounded in
        # entries (each ≤ MAX_RAW_KEY bytes of key, so at most half of max_bytes).
        self._raw: OrderedDict[RawKey, tuple[str, Hashable, object]] = OrderedDict()
        self._max_raw = max(16, max_bytes // (2 * MAX_RAW_KEY))

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
            self._raw.clear()
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

    def index(self, raw: RawKey, page: str, key: Hashable, route: object) -> None:
        """The answer kept under ``(page, key)`` is also the answer to the exact request ``raw``."""
        if len(raw[0]) + len(raw[1]) > MAX_RAW_KEY:
            return
        self._raw[raw] = (page, key, route)
        self._raw.move_to_end(raw)
        while len(self._raw) > self._max_raw:
            self._raw.popitem(last=False)

    def lookup(self, raw: RawKey, generation: Generation) -> tuple[str, object, _Answer] | None:
        """(page, route, answer) for the exact request ``raw`` if its answer was computed at ``generation``."""
        found = self._raw.get(raw)
        if found is None:
            return None
        page, key, route = found
        answer = self.get(key, generation)
        if answer is None:
            return None
        self._raw.move_to_end(raw)
        return page, route, answer

    def indexed(self, raw: RawKey) -> bool:
        return raw in self._raw

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
        given: Generation | None = request.scope.get(GENERATION_SCOPE_KEY)
        try:
            generation = given if given is not None else await self.generation(reads.generation)
        except ReadsUnavailable:
            return await compute()  # it answers the database's unavailability as the route does (503)
        full_key = (page, key)
        if generation is not None:
            self._seen(generation)
            answer = self.get(full_key, generation)
            if answer is not None:
                HITS.labels(page).inc()
                self.index(raw_key(request.scope), page, full_key, request.scope.get("route"))  # another spelling
                response = Response(status_code=answer.status)
                response.body = answer.body
                response.raw_headers = [*answer.headers, (b"x-cache", b"hit")]
                return response
        MISSES.labels(page).inc()
        response = await compute()
        if generation is not None and response.status_code in KEPT_STATUSES:
            body = bytes(response.body)
            self.put(full_key, _Answer(generation, response.status_code, body, list(response.raw_headers)))
            self.index(raw_key(request.scope), page, full_key, request.scope.get("route"))
        response.raw_headers.append((b"x-cache", b"miss"))
        return response

    async def answer(
        self,
        scope: Scope,
        reads: PublicReads,
        page: str,
        key: Hashable,
        compute: Callable[[], Awaitable[RawAnswer]],
        route: object,
    ) -> RawAnswer:
        """:meth:`serve` for an answer computed on a pure ASGI path (no Request, no Response): the same rules
        (anonymous only, the answer of the generation read before computing, kept statuses), the same
        ``X-Cache`` header, counters and index of exact requests (the next identical request is then a hit of
        :class:`PublicCacheFastPath`, nothing parsed). ``compute`` may raise ``ReadsUnavailable`` (the caller
        answers 503)."""
        if not self.enabled or _has_authorization(scope):
            return await compute()
        given: Generation | None = scope.get(GENERATION_SCOPE_KEY)
        try:
            generation = given if given is not None else await self.generation(reads.generation)
        except ReadsUnavailable:
            return await compute()
        full_key = (page, key)
        if generation is not None:
            self._seen(generation)
            found = self.get(full_key, generation)
            if found is not None:
                HITS.labels(page).inc()
                self.index(raw_key(scope), page, full_key, route)  # another spelling
                return found.status, [*found.headers, (b"x-cache", b"hit")], found.body
        MISSES.labels(page).inc()
        status, headers, body = await compute()
        if generation is not None and status in KEPT_STATUSES:
            self.put(full_key, _Answer(generation, status, body, headers))
            self.index(raw_key(scope), page, full_key, route)
        return status, [*headers, (b"x-cache", b"miss")], body


def _has_authorization(scope: Scope) -> bool:
    return any(name == b"authorization" for name, _ in scope["headers"])


def raw_key(scope: Scope) -> RawKey:
    """The request's path and query string as sent (``raw_path`` when the server gives it)."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    # httpx's ASGI transport puts the query in raw_path too; a literal "?" can only start the query.
    return bytes(raw_path).split(b"?", 1)[0], bytes(scope.get("query_string", b""))


class PublicCacheFastPath:
    """Pure ASGI middleware answering cache hits before FastAPI's routing, dependencies and validation.

    Only an anonymous GET whose exact path and query a kept answer was indexed under is looked at; it reads
    the generation as the routes do (shared read) and sends the answer only if it was computed at that
    generation. Everything else (no index entry, stale, database unavailable, ``Authorization``) is passed
    on untouched; an indexed one whose answer is stale or pushed out carries the generation read here, so
    the route does not read it again."""

    def __init__(self, app: ASGIApp, parts: Callable[[], tuple[PublicCache, PublicReads] | None]) -> None:
        self.app = app
        self.parts = parts  # read per request: the cache and the reads exist only once the app has started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        parts = self.parts()
        if parts is None or not parts[0].enabled:
            await self.app(scope, receive, send)
            return
        cache, reads = parts
        raw = raw_key(scope)
        if not cache.indexed(raw) or _has_authorization(scope):
            await self.app(scope, receive, send)
            return
        try:
            generation = await cache.generation(reads.generation)
        except ReadsUnavailable:
            await self.app(scope, receive, send)  # the route answers 503 as it would have
            return
        if generation is not None:
            cache._seen(generation)
            found = cache.lookup(raw, generation)
            if found is not None:
                page, route, answer = found
                HITS.labels(page).inc()
                scope["route"] = route  # the request metrics' route template, as if routed
                headers = [*answer.headers, (b"x-cache", b"hit")]
                await send({"type": "http.response.start", "status": answer.status, "headers": headers})
                await send({"type": "http.response.body", "body": answer.body})
                return
            scope[GENERATION_SCOPE_KEY] = generation
        await self.app(scope, receive, send)
