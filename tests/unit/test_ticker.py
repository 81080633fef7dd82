"""The shared ticker's per-subject isolation (services/common/ticker.py), pure asyncio."""

from __future__ import annotations

import asyncio

import pytest

from services.common.ticker import each_isolated


async def test_a_subject_that_always_fails_does_not_stop_the_later_ones() -> None:
    done: list[str] = []

    async def work(code: str) -> None:
        if code == "0POISON":
            raise RuntimeError("cannot read this subject's records")
        done.append(code)

    failed = await each_isolated(["0POISON", "91A", "91B"], work, what="test")
    assert (failed, done) == (["0POISON"], ["91A", "91B"])


async def test_cancellation_is_not_swallowed() -> None:
    async def work(code: str) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await each_isolated(["91A"], work, what="test")
