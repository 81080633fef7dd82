"""The public read cache's memory: an answer only for the generation it was computed at, bounded in bytes."""

from __future__ import annotations

import asyncio

from services.publish.public_cache import PublicCache, _Answer


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
