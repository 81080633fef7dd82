"""Reading whole topics from offset 0 to the high watermark, as an auditor does (no consumer group,
no committed offsets: reading leaves no trace on the cluster)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError

from services.common.kafka import NO_AUTH, KafkaAuth, make_admin


async def _partitions(bootstrap: str, topics: Sequence[str], auth: KafkaAuth) -> list[TopicPartition]:
    admin = make_admin(bootstrap, client_id="exchange-audit", auth=auth)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t in existing]
        if auth.username is not None and len(wanted) < len(set(topics)):
            # On a secure cluster the listing shows only what this user may see: a topic missing from it
            # may exist. Ask for each; refusing is not "empty" (that would read as lost records).
            missing = [t for t in topics if t not in existing]
            denied = [
                d["topic"]
                for d in await admin.describe_topics(missing)
                if d["error_code"] == TopicAuthorizationFailedError.errno
            ]
            if denied:
                raise PermissionError(
                    f"{auth.who} may not read {', '.join(denied)}: the audit commands need the auditor's "
                    "Kafka user (EXCHANGE_KAFKA_USERNAME / EXCHANGE_KAFKA_PASSWORD)"
                )
        if not wanted:
            return []
        descriptions = await admin.describe_topics(wanted)
        return [TopicPartition(d["topic"], p["partition"]) for d in descriptions for p in d["partitions"]]
    finally:
        await admin.close()


async def read_all(
    bootstrap: str, topics: Sequence[str], *, auth: KafkaAuth = NO_AUTH
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every message of `topics` that exists now, partition by partition in offset order (on a secure
    cluster as the auditor's Kafka user, who may read every topic)."""
    partitions = await _partitions(bootstrap, topics, auth)
    if not partitions:
        return
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        **auth.client_options(),
        client_id="exchange-audit",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=2000,
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, messages in batches.items():
                for message in messages:
                    if message.offset < ends[tp]:
                        yield message
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
