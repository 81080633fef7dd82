"""Kafka look-ups the bench needs: end offsets, a group's committed offsets and lag, and moving a group
to the end of its topics (so consumers started for S2 do not first replay the earlier scenarios)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def stop_quietly(consumer: AIOKafkaConsumer) -> None:
    """Stop a consumer; aiokafka 0.14's group-less consumer re-raises its own task's cancellation here."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


async def _partitions(bootstrap: str, topics: Sequence[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    partitions = {t["topic"]: sorted(p["partition"] for p in t["partitions"]) for t in described}
    return [TopicPartition(topic, p) for topic in topics for p in partitions.get(topic, [])]


async def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await _partitions(bootstrap, topics)
        return dict(await consumer.end_offsets(tps)) if tps else {}
    finally:
        await stop_quietly(consumer)


async def fast_forward(bootstrap: str, group: str, topics: Sequence[str]) -> int:
    """Commit the end offsets of `topics` for `group`; returns how many messages it skips."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await _partitions(bootstrap, topics)
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.commit({tp: offset for tp, offset in ends.items()})
        return sum(ends.values())
    finally:
        await stop_quietly(consumer)


class LagProbe:
    """Σ (end offset - committed offset) over `topics` for each group, on one admin and one consumer."""

    def __init__(self, bootstrap: str, groups: Sequence[str], topics: Sequence[str]) -> None:
        self._bootstrap = bootstrap
        self._groups = list(groups)
        self._topics = list(topics)
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._tps: list[TopicPartition] = []

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()
        self._tps = await _partitions(self._bootstrap, self._topics)

    async def lag(self) -> dict[str, int]:
        return (await self.sample())[1]

    async def sample(self) -> tuple[int, dict[str, int]]:
        """(Σ end offsets, lag per group): what was produced so far, and what each group has not committed."""
        ends = await self._consumer.end_offsets(self._tps)
        out = {}
        for group in self._groups:
            committed = await self._admin.list_consumer_group_offsets(group, partitions=self._tps)
            out[group] = sum(
                max(ends[tp] - (meta.offset if meta is not None and meta.offset >= 0 else 0), 0)
                for tp, meta in ((tp, committed.get(tp)) for tp in self._tps)
            )
        return sum(ends.values()), out

    async def stop(self) -> None:
        await stop_quietly(self._consumer)
        await self._admin.close()
