"""A consumed message is decoded once: its envelope, origin and id travel with it."""

from __future__ import annotations

from datetime import UTC, datetime

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


def test_a_record_event_is_decoded_once_with_its_origin_and_id() -> None:
    record = factories.penalty()
    receipt = {"department": "AMR", "received_at": "2026-12-08T08:00:00+08:00"}
    decoded = decode(_message({"record": record, "receipt": receipt}, f"AMR/{record['id']}"))
    assert decoded.event is not None
    assert decoded.problem is None
    assert (decoded.event_id, str(decoded.origin), decoded.origin.attempt) == (f"AMR/{record['id']}", "t:2:41", 0)
    assert decoded.event.requestid == "req-1"
    assert AcceptedRecord.from_event(decoded.event).record == record


def test_an_undecodable_message_keeps_its_origin_as_its_id() -> None:
    decoded = decode(ConsumerRecord("t", 0, 7, 0, 0, b"x", b"{}", None, 0, 0, [("ce_specversion", b"0.3")]))
    assert decoded.event is None
    assert decoded.problem is not None
    assert decoded.event_id == "undecodable:t:0:7"
