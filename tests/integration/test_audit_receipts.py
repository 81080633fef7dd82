"""`exchange audit verify-receipts`: every receipt checked against the topics; forgeries are caught."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from deploy.stack import Stack
from services.audit.commands import public_key, verify_receipts
from services.common.kafka import ensure_topics, record_topic
from services.common.settings import CommonSettings
from services.ingest.receipts import ReceiptSigner
from tests import factories
from tests.helpers import eventually, find_on_topic, header


async def _report(ingest: httpx.AsyncClient, tokens: dict[str, str], n: int) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {tokens['TOKEN_HOUSING']}"}
    records = [factories.penalty(department="HOUSING") for _ in range(n)]
    for record in records:
        assert (await ingest.post("/v1/records", json=record, headers=headers)).status_code == 202
    return records


async def _outbox_empty(ingest: httpx.AsyncClient) -> bool:
    async with ingest.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        return (await conn.execute(text("SELECT count(*) FROM ingest.outbox"))).scalar_one() == 0


async def test_receipts_on_the_topics_verify_and_match_what_ingest_issued(
    ingest: httpx.AsyncClient, tokens: dict[str, str], stack: Stack, stack_env: dict[str, str]
) -> None:
    await _report(ingest, tokens, 3)
    await eventually(lambda: _outbox_empty(ingest), what="the outbox to drain")
    report = await verify_receipts(CommonSettings(), department=None, key=public_key(None))
    assert report.findings == []
    assert report.verified >= 3
    assert report.departments["HOUSING"] >= 3


async def test_forged_event_and_altered_receipt_written_to_a_topic_are_detected(
    ingest: httpx.AsyncClient, tokens: dict[str, str], stack: Stack, stack_env: dict[str, str]
) -> None:
    (genuine,) = await _report(ingest, tokens, 1)
    real_topic = stack.config.topic_prefix + "records.acts"
    original = await find_on_topic(
        stack.bootstrap, real_topic, lambda m: header(m, "ce_id") == f"HOUSING/{genuine['id']}"
    )
    # A separate set of topics, so the forgeries reach no running consumer.
    prefix = f"forge{uuid.uuid4().hex[:6]}."
    await ensure_topics(stack.bootstrap, [record_topic(prefix + "records.acts", partitions=1)])
    payload = orjson.loads(original.value or b"")

    altered = {**payload, "receipt": {**payload["receipt"], "received_at": "2026-01-01T00:00:00+00:00"}}
    forged_record = factories.penalty(department="HOUSING")
    impostor = ReceiptSigner(Ed25519PrivateKey.generate())
    forged_receipt = {**payload["receipt"], "record_id": forged_record["id"], "seq": 999_999}
    forged_receipt["signature"] = impostor.sign(forged_receipt)
    forged_headers = [
        (k, f"HOUSING/{forged_record['id']}".encode() if k == "ce_id" else v) for k, v in original.headers
    ]

    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        topic = prefix + "records.acts"
        await producer.send_and_wait(topic, orjson.dumps(payload), key=original.key, headers=list(original.headers))
        await producer.send_and_wait(topic, orjson.dumps(altered), key=original.key, headers=list(original.headers))
        await producer.send_and_wait(
            topic,
            orjson.dumps({"record": forged_record, "receipt": forged_receipt}),
            key=original.key,
            headers=forged_headers,
        )
        await producer.send_and_wait(
            topic, orjson.dumps({"record": forged_record}), key=original.key, headers=forged_headers
        )
    finally:
        await producer.stop()

    settings = CommonSettings(EXCHANGE_TOPIC_PREFIX=prefix)
    report = await verify_receipts(settings, department="HOUSING", key=public_key(None), with_database=False)
    problems = [f.problem for f in report.findings]
    assert any("signature is not the exchange's" in p for p in problems), problems  # altered + forged
    assert sum("signature is not the exchange's" in p for p in problems) == 2, problems
    assert any("did not come through ingest" in p for p in problems), problems
    assert any("missing" in p for p in problems), problems  # the copied record's earlier seqs are absent
    assert report.verified == 1  # the genuine copy still verifies
