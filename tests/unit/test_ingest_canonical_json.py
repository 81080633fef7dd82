"""The writer serialises each record once (issue 19): both hashes and the event's payload are put together
from the record's and the receipt's canonical JSON, and must be byte for byte what serialising the whole
objects gives."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.envelope import dumps
from services.ingest.receipts import content_hash, hashes_of, record_hash
from tests.factories import penalty

RECORDS: list[dict[str, Any]] = [
    penalty(),
    {"id": "R-1", "data": {"CF_SY": 'a "quoted" \\u0000 text\n', "amount": 1.5e-7, "nested": [{"z": 1, "a": None}]}},
    {"id": "重庆-1", "subject": {"name": "重庆市渝中区某某商贸有限公司"}, "data": {"ÿ": "\u2028", "a": True}},
]
RECEIPT = {"record_id": "R-1", "seq": 7, "hash": "ab", "warnings": [{"path": "/x", "code": "c", "message": "警告"}]}


@pytest.mark.parametrize("record", RECORDS)
def test_the_hashes_from_the_canonical_json_are_those_of_the_record(record: dict[str, Any]) -> None:
    for department in ("AMR", "TAX"):
        assert hashes_of(department, dumps(record)) == (content_hash(record), record_hash(department, record))


@pytest.mark.parametrize("record", RECORDS)
def test_the_event_payload_put_together_is_the_canonical_json_of_receipt_and_record(record: dict[str, Any]) -> None:
    together = b'{"receipt":' + dumps(RECEIPT) + b',"record":' + dumps(record) + b"}"
    assert together == dumps({"record": record, "receipt": RECEIPT})
