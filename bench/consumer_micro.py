"""The consumers' shared per-event path without I/O (issue 18): decode, the inbox claim's bookkeeping, the
applied log line, metrics, the record stored (its parameters built, the statement not sent) and one outcome
event queued, for polls of 1, 10, 100 and 500 events.

`.venv/bin/python -m bench.consumer_micro [poll sizes]`; compare commits by running it in each. Process CPU
per event, best of 7 rounds of ~2,000 events (the JSON log lines go to /dev/null): what every consumer spends
per event beside its own handler, independent of how loaded the machine is.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord

from services.common import logs
from services.common.consumer import ConsumerLoop, decode
from services.common.envelope import CloudEvent
from services.common.outbox import outbox_row
from services.common.records import AcceptedRecord, store_received_records
from tests import factories


def message(i: int) -> ConsumerRecord[bytes, bytes]:
    """A record event as ingest writes it: a penalty with its receipt, CloudEvents headers, a request id."""
    record = factories.penalty()
    receipt = {
        "department": "AMR",
        "record_id": record["id"],
        "received_at": datetime.now(UTC).isoformat(),
        "seq": i,
        "digest": uuid.uuid4().hex * 2,
        "signature": uuid.uuid4().hex * 4,
        "key_id": "k1",
    }
    event = CloudEvent(
        id=f"AMR/{record['id']}",
        source="/departments/AMR",
        type="cn.credit.record.penalty.v1",
        subject=record["subject"]["code"],
        time=datetime.now(UTC),
        data={"record": record, "receipt": receipt},
        dataschema="/v1/catalogue/penalty/1",
        requestid=uuid.uuid4().hex,
    )
    return ConsumerRecord(
        "bench.records.penalty",
        i % 6,
        i,
        0,
        0,
        event.kafka_key(),
        event.kafka_value(),
        None,
        0,
        0,
        event.kafka_headers(),
    )


class NoDatabase:
    async def execute(self, statement: Any, params: Any = None) -> list[Any]:
        return []


async def per_event(poll: int, rounds: int = 7) -> float:
    messages = [message(i) for i in range(poll)]

    async def handle_batch(conn: Any, events: Sequence[CloudEvent]) -> None:
        await store_received_records(conn, "bench", [AcceptedRecord.from_event(e) for e in events])
        for e in events:
            outcome = CloudEvent(
                id=f"{e.id}/outcome",
                source="/services/bench",
                type="cn.credit.grade.changed",
                subject=e.subject,
                time=e.time,
                data={"code": e.subject},
                dataschema="/asyncapi#grade.changed",
            )
            outbox_row("bench.outcomes", outcome)

    async def claim(conn: Any, items: Any) -> set[str]:
        return {item.event_id for item in items}

    loop = ConsumerLoop(
        engine=None,  # type: ignore[arg-type]
        consumer=None,  # type: ignore[arg-type]
        dlq_producer=None,  # type: ignore[arg-type]
        schema="bench",
        group_id="bench",
        handle=None,  # type: ignore[arg-type]
        handle_batch=handle_batch,
    )
    loop._claim = claim  # type: ignore[method-assign]  # the statement's result, without the database
    repeat = max(1, 2000 // poll)
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(repeat):
            decoded = [decode(m) for m in messages]
            await loop._apply(NoDatabase(), [d for d in decoded if d.problem is None])  # type: ignore[arg-type]
        best = min(best, (time.process_time() - started) / (repeat * poll))
    return best


def main() -> None:
    logs.configure("bench")
    with open("/dev/null", "w") as sink:
        logging.getLogger().handlers[0].stream = sink  # type: ignore[attr-defined]
        for poll in [int(a) for a in sys.argv[1:]] or [1, 10, 100, 500]:
            print(f"poll of {poll:>3}: {asyncio.run(per_event(poll)) * 1e6:6.1f} µs per event", flush=True)


if __name__ == "__main__":
    main()
