"""PostgreSQL is the commit point: a 202 is never lost, and what cannot be made durable gets a 503."""

from __future__ import annotations

import httpx
import orjson
from sqlalchemy import text

from deploy.stack import Stack
from tests import factories
from tests.helpers import find_on_topic, header


async def test_record_accepted_while_kafka_is_down_is_delivered_when_it_returns(
    ingest: httpx.AsyncClient, tokens: dict[str, str], stack: Stack
) -> None:
    headers = {"Authorization": f"Bearer {tokens['TOKEN_AMR']}"}
    stack.kafka.stop()
    try:
        record = factories.penalty()
        response = await ingest.post("/v1/records", json=record, headers=headers)
        assert response.status_code == 202, response.text
        async with ingest.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
            waiting = (await conn.execute(text("SELECT count(*) FROM ingest.outbox"))).scalar_one()
        assert waiting >= 1
    finally:
        stack.kafka.start()
    topic = stack.config.topic_prefix + "records.acts"
    message = await find_on_topic(
        stack.bootstrap, topic, lambda m: header(m, "ce_id") == f"AMR/{record['id']}", timeout=90
    )
    assert orjson.loads(message.value or b"")["record"] == record


async def test_database_down_gives_503_with_retry_after_and_the_retry_succeeds(
    ingest: httpx.AsyncClient, tokens: dict[str, str], stack: Stack
) -> None:
    headers = {"Authorization": f"Bearer {tokens['TOKEN_AMR']}"}
    record = factories.penalty()
    stack.postgres.stop(mode="immediate")
    try:
        response = await ingest.post("/v1/records", json=record, headers=headers)
        assert response.status_code == 503
        assert response.headers["retry-after"].isdigit()
        assert response.json()["errors"][0]["message"]
    finally:
        stack.postgres.start()
    retried = await ingest.post("/v1/records", json=record, headers=headers)
    assert retried.status_code == 202, retried.text
