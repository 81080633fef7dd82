"""The public read cache's memory: an answer only for the generation it was computed at, bounded in bytes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from services.publish.public_cache import (
    GENERATION_SCOPE_KEY,
    MAX_RAW_KEY,
    PublicCache,
    PublicCacheFastPath,
    _Answer,
    raw_key,
)


def answer(epoch: str, n: int, body: bytes = b"x") -> _Answer:
    return _Answer((epoch, n), 200, body, [(b"content-type", b"application/json")])


def test_an_answer_is_found_only_at_the_generation_it_was_computed_at() -> None:
    cache = PublicCache(max_bytes=1000)
    cache.put("k", answer("e", 3))
    assert cache.get("k", ("e", 3)) is not None
    assert cache.get("k", ("e", 4)) is None  # a change committed since
    assert cache.get("k", ("other", 3)) is None  # the counter's table was made again


def test_an_answer_computed_at_an_older_generation_does_not_replace_a_newer_one() -> None:
    cache = PublicCache(max_bytes=1000)
    cache.put("k", answer("e", 5, b"new"))
    cache.put("k", answer("e", 4, b"old"))
    found = cache.get("k", ("e", 5))
    assert found is not None
    assert found.body == b"new"


def test_the_least_recently_used_answers_leave_first_when_the_bytes_run_out() -> None:
    cache = PublicCache(max_bytes=800)
    for key in "abcd":
        cache.put(key, answer("e", 1, b"." * 100))
    assert cache.get("a", ("e", 1)) is not None  # a is now the most recently used
    for key in "efgh":
        cache.put(key, answer("e", 1, b"." * 100))
    cache.put("i", answer("e", 1, b"." * 100))
    assert len(cache) == 8
    assert cache.get("b", ("e", 1)) is None
    assert cache.get("a", ("e", 1)) is not None
    cache.put("huge", answer("e", 1, b"." * 101))  # more than an eighth of the bound: never kept
    assert cache.get("huge", ("e", 1)) is None


def test_a_cache_of_no_bytes_is_off() -> None:
    assert not PublicCache(max_bytes=0).enabled
    assert PublicCache(max_bytes=1).enabled


async def test_requests_share_a_generation_read_that_started_after_they_arrived() -> None:
    cache = PublicCache(max_bytes=1000)
    started: list[int] = []
    release = asyncio.Event()

    async def read() -> tuple[str, int]:
        started.append(len(started))
        await release.wait()
        return ("e", len(started))

    first = asyncio.create_task(cache.generation(read))
    await asyncio.sleep(0)  # the read starts
    await asyncio.sleep(0)
    assert started == [0]
    later = [asyncio.create_task(cache.generation(read)) for _ in range(5)]  # arrive during the first read
    await asyncio.sleep(0)
    assert started == [0]  # they wait for a read of their own, not the running one
    release.set()
    assert await first == ("e", 1)
    assert {await t for t in later} == {("e", 2)}  # one read for all five, started after they arrived
    assert started == [0, 1]


def test_a_counter_gone_back_in_its_epoch_forgets_every_answer() -> None:
    cache = PublicCache(max_bytes=1000)
    cache._seen(("e", 7))
    cache.put("k", answer("e", 5))  # kept by a request that read 5 before the restore
    cache._seen(("e", 4))  # restored: the counter will count 5 again, over other rows
    assert len(cache) == 0


def test_an_exact_request_finds_the_answer_it_was_indexed_under_only_at_that_generation() -> None:
    cache = PublicCache(max_bytes=1000)
    raw = raw_key({"path": "/v1/disclosures", "raw_path": b"/v1/disclosures", "query_string": b"q=%E5%BC%A0"})
    assert raw == (b"/v1/disclosures", b"q=%E5%BC%A0")
    assert raw_key({"path": "/a b", "raw_path": b"/a%20b?x=1", "query_string": b"x=1"}) == (b"/a%20b", b"x=1")
    assert not cache.indexed(raw)
    cache.put(("search", "k"), answer("e", 3))
    cache.index(raw, "search", ("search", "k"), "the route")
    found = cache.lookup(raw, ("e", 3))
    assert found is not None
    assert found[:2] == ("search", "the route")
    assert cache.lookup(raw, ("e", 4)) is None  # a change committed since: routed, computed again
    assert cache.lookup((b"/v1/disclosures", b"q=%E5%BC%A0&limit=20"), ("e", 3)) is None  # not this exact string
    cache.index((b"/" + b"x" * MAX_RAW_KEY, b""), "search", ("search", "k"), None)  # too long to index
    assert not cache.indexed((b"/" + b"x" * MAX_RAW_KEY, b""))
    cache._seen(("e", 9))
    cache._seen(("e", 2))  # a counter gone back forgets the index too
    assert not cache.indexed(raw)


def test_the_index_of_exact_requests_is_bounded() -> None:
    cache = PublicCache(max_bytes=1)
    for n in range(100):
        cache.index((b"/v1/disclosures", f"q={n}".encode()), "search", ("search", n), None)
    assert not cache.indexed((b"/v1/disclosures", b"q=0"))
    assert cache.indexed((b"/v1/disclosures", b"q=99"))


class Reads:
    def __init__(self, generation: tuple[str, int]) -> None:
        self.now = generation

    async def generation(self) -> tuple[str, int]:
        return self.now


async def test_the_fast_path_answers_only_anonymous_gets_of_indexed_current_answers_and_passes_the_rest_on() -> None:
    cache = PublicCache(max_bytes=1000)
    reads = Reads(("e", 3))
    routed: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        routed.append(scope.get(GENERATION_SCOPE_KEY))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-cache", b"miss")]})
        await send({"type": "http.response.body", "body": b"computed"})

    fast = PublicCacheFastPath(app, lambda: (cache, reads))  # type: ignore[arg-type]
    cache.put(("record", "A"), _Answer(("e", 3), 410, b"gone", [(b"content-type", b"application/json")]))
    cache.index((b"/v1/disclosures/A", b""), "record", ("record", "A"), "route")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fast), base_url="http://publish") as client:
        hit = await client.get("/v1/disclosures/A")
        assert (hit.status_code, hit.content, hit.headers["x-cache"]) == (410, b"gone", "hit")
        assert routed == []
        assert (await client.get("/v1/disclosures/A", headers={"Authorization": "Bearer t"})).content == b"computed"
        assert (await client.get("/v1/disclosures/A?x=1")).content == b"computed"  # another exact string
        assert (await client.post("/v1/disclosures/A")).content == b"computed"
        assert routed == [None, None, None]  # not looked at: the route reads the generation itself
        reads.now = ("e", 4)
        assert (await client.get("/v1/disclosures/A")).content == b"computed"
        assert routed[-1] == ("e", 4)  # the route computes under the generation read here
