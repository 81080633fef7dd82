"""Kafka look-ups the bench needs: end offsets, a group's committed offsets and lag, and moving a group
to the end of its topics (so consumers started for S2 do not first replay the earlier scenarios)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

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
    """End offsets and each group's committed offsets over the topics that group consumes, on one admin
    and one consumer. `groups` maps a group to its topics (a consumer of grade events has their lag too)."""

    def __init__(self, bootstrap: str, groups: Mapping[str, Sequence[str]]) -> None:
        self._bootstrap = bootstrap
        self._groups = {group: list(topics) for group, topics in groups.items()}
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._tps: dict[str, list[TopicPartition]] = {}

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()
        every = list(dict.fromkeys(t for topics in self._groups.values() for t in topics))
        tps = await _partitions(self._bootstrap, every)
        self._tps = {g: [tp for tp in tps if tp.topic in set(topics)] for g, topics in self._groups.items()}

    async def lag(self) -> dict[str, int]:
        """Messages each group has not committed, over all its topics."""
        _, lags = await self.sample()
        return {group: sum(by_topic.values()) for group, by_topic in lags.items()}

    async def sample(self) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        """(end offset Σ per topic, lag per group per topic): what was produced so far, and what each group
        has not committed."""
        every = list(dict.fromkeys(tp for tps in self._tps.values() for tp in tps))
        ends = await self._consumer.end_offsets(every)
        produced: dict[str, int] = {}
        for tp in every:
            produced[tp.topic] = produced.get(tp.topic, 0) + ends[tp]
        out: dict[str, dict[str, int]] = {}
        for group, tps in self._tps.items():
            committed = await self._admin.list_consumer_group_offsets(group, partitions=tps)
            by_topic: dict[str, int] = {}
            for tp in tps:
                meta = committed.get(tp)
                done = meta.offset if meta is not None and meta.offset >= 0 else 0
                by_topic[tp.topic] = by_topic.get(tp.topic, 0) + max(ends[tp] - done, 0)
            out[group] = by_topic
        return produced, out

    async def stop(self) -> None:
        await stop_quietly(self._consumer)
        await self._admin.close()
