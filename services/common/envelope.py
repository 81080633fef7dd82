"""The shared event envelope: CloudEvents 1.0 attributes in Kafka binary content mode.

Attributes travel as `ce_*` headers (CloudEvents Kafka protocol binding), the payload is JSON in the
message value, and the Kafka key is the subject's credit code (USCC, or the ID number of a natural
person), so all events about one subject stay in one partition, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


class EnvelopeError(ValueError):
    """A message on a topic is not a well-formed CloudEvent; it goes to the dead-letter topic."""


@dataclass(frozen=True, slots=True)
class CloudEvent:
    id: str
    source: str
    type: str
    subject: str
    time: datetime
    data: dict[str, Any]
    dataschema: str | None = None
    # CloudEvents extension attribute (services/common/request_id.py): the HTTP request that caused the event.
    requestid: str | None = None

    def kafka_key(self) -> bytes:
        return self.subject.encode()

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        return [(name, value.encode()) for name, value in self.header_texts()]

    def header_texts(self) -> list[tuple[str, str]]:
        """The Kafka headers before encoding (the outbox keeps them as text)."""
        headers = [
            ("ce_specversion", SPEC_VERSION),
            ("ce_id", self.id),
            ("ce_source", self.source),
            ("ce_type", self.type),
            ("ce_subject", self.subject),
            ("ce_time", self.time.isoformat()),
            ("content-type", CONTENT_TYPE),
        ]
        if self.dataschema:
            headers.append(("ce_dataschema", self.dataschema))
        if self.requestid:
            headers.append(("ce_requestid", self.requestid))
        return headers

    def kafka_value(self) -> bytes:
        return dumps(self.data)

    @classmethod
    def from_kafka(cls, headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...], value: bytes) -> CloudEvent:
        attrs = {name: raw.decode() for name, raw in headers}
        if attrs.get("ce_specversion") != SPEC_VERSION:
            raise EnvelopeError(f"ce_specversion is {attrs.get('ce_specversion')!r}, expected {SPEC_VERSION}")
        missing = [h for h in ("ce_id", "ce_source", "ce_type", "ce_subject", "ce_time") if h not in attrs]
        if missing:
            raise EnvelopeError("missing CloudEvents headers: " + ", ".join(missing))
        try:
            data = orjson.loads(value)
            when = datetime.fromisoformat(attrs["ce_time"])
        except (orjson.JSONDecodeError, ValueError) as exc:
            raise EnvelopeError(f"undecodable event {attrs['ce_id']}: {exc}") from exc
        if not isinstance(data, dict):
            raise EnvelopeError(f"event {attrs['ce_id']} payload is not a JSON object")
        return cls(
            id=attrs["ce_id"],
            source=attrs["ce_source"],
            type=attrs["ce_type"],
            subject=attrs["ce_subject"],
            time=when,
            data=data,
            dataschema=attrs.get("ce_dataschema"),
            requestid=attrs.get("ce_requestid"),
        )


def dumps(value: Any) -> bytes:
    """Canonical JSON: UTF-8, sorted keys, no insignificant white space (hashes and signatures rest on it)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
