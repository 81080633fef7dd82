"""The rows and events ingest writes for an accepted record, built the way the writer builds them
(receipt, CloudEvent, outbox row) but without the service: what the Kafka and database baselines send."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from bench.records import RecordMix
from services.common.envelope import CloudEvent, dumps
from services.common.outbox import outbox_row


@dataclass(frozen=True, slots=True)
class Accepted:
    record: dict[str, Any]
    receipt: dict[str, Any]
    content_hash: bytes
    event: dict[str, object]  # outbox row: topic, key, value, headers


def accepted_records(n: int, *, topic: str, seed: int, tag: str) -> list[Accepted]:
    mix = RecordMix(seed=seed, tag=tag, invalid=0.0, duplicate=0.0)
    now = datetime.now(UTC)
    prev = "0" * 64
    out = []
    for seq in range(1, n + 1):
        item = mix.next()
        record = orjson.loads(item.body)
        digest = hashlib.sha256(dumps({"department": item.department, "record": record})).hexdigest()
        receipt = {
            "record_id": record["id"],
            "department": item.department,
            "record_type": record["type"],
            "seq": seq,
            "received_at": now.isoformat(timespec="microseconds"),
            "disclosure_due": "2026-12-04",
            "provisional": False,
            "reported_late": False,
            "hash": digest,
            "prev_hash": prev,
            "warnings": [],
            "signature": base64.b64encode(os.urandom(64)).decode(),
        }
        prev = digest
        event = CloudEvent(
            id=item.event_id,
            source=f"/departments/{item.department}",
            type="cn.credit.record.administrative_penalty.v1",
            subject=item.code,
            time=now,
            data={"record": record, "receipt": receipt},
            dataschema="/v1/catalogue/administrative_penalty/1",
        )
        out.append(Accepted(record, receipt, hashlib.sha256(dumps(record)).digest(), outbox_row(topic, event)))
    return out


def record_row(a: Accepted) -> tuple[Any, ...]:
    """Values of an `ingest.records` row, in column order of the baseline's INSERT."""
    r = a.receipt
    return (
        r["department"],
        r["record_id"],
        r["seq"],
        r["record_type"],
        1,
        a.record["subject"]["code"],
        date.fromisoformat(a.record["decision_date"]),
        a.content_hash,
        orjson.dumps(r).decode(),
        datetime.fromisoformat(r["received_at"]),
    )


def outbox_values(a: Accepted) -> tuple[Any, ...]:
    e = a.event
    return (e["topic"], e["key"], e["value"], orjson.dumps(e["headers"]).decode())
