"""A consumed record event is decoded once: its origin, id and payload bytes travel with it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import orjson
from aiokafka import ConsumerRecord

from services.common.consumer import decode
from services.common.envelope import CloudEvent
from services.common.records import AcceptedRecord
from tests import factories


def _message(data: dict[str, object], event_id: str) -> ConsumerRecord[bytes, bytes]:
    event = CloudEvent(
        id=event_id,
        source="/departments/AMR",
        type="cn.credit.record.penalty.v1",
        subject="x",
        time=datetime(2026, 12, 8, tzinfo=UTC),
        data=data,
        requestid="req-1",
    )
    return ConsumerRecord("t", 2, 41, 0, 0, b"x", event.kafka_value(), None, 0, 0, event.kafka_headers())


def test_a_record_is_stored_from_the_bytes_it_was_consumed_as_and_a_corrected_view_never_is() -> None:
    record = factories.penalty()
    receipt = {"department": "AMR", "received_at": "2026-12-08T08:00:00+08:00"}
    message = _message({"record": record, "receipt": receipt}, f"AMR/{record['id']}")
    decoded = decode(message)
    assert decoded.event is not None
    assert decoded.problem is None
    assert (decoded.event_id, str(decoded.origin), decoded.origin.attempt) == (f"AMR/{record['id']}", "t:2:41", 0)
    accepted = AcceptedRecord.from_event(decoded.event)
    assert accepted.payload == message.value
    assert orjson.loads(accepted.payload or b"") == {"record": accepted.record, "receipt": accepted.receipt}
    # A correction's view of the record (services/common/amendments.py) is not what was consumed.
    corrected = dataclasses.replace(accepted, record={**accepted.record, "data": {}})
    assert corrected.payload is None


def test_a_payload_with_more_than_the_record_and_its_receipt_is_not_stored_as_it_came() -> None:
    record = factories.penalty()
    data = {"record": record, "receipt": {"department": "AMR", "received_at": "2026-12-08T08:00:00+08:00"}, "x": 1}
    decoded = decode(_message(data, f"AMR/{record['id']}"))
    assert decoded.event is not None
    assert AcceptedRecord.from_event(decoded.event).payload is None


def test_an_undecodable_message_keeps_its_origin_as_its_id() -> None:
    decoded = decode(ConsumerRecord("t", 0, 7, 0, 0, b"x", b"{}", None, 0, 0, [("ce_specversion", b"0.3")]))
    assert decoded.event is None
    assert decoded.problem is not None
    assert decoded.event_id == "undecodable:t:0:7"
