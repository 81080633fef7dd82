"""Issue 21: the disclosure a penalty causes carries the request id of the penalty's POST."""

from __future__ import annotations

import httpx

from tests import factories
from tests.helpers import outcome_of_request


async def test_the_disclosure_of_a_record_carries_its_request_id(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], stack_env: dict[str, str]
) -> None:
    topic = stack_env["EXCHANGE_TOPIC_PREFIX"] + "outcomes.disclosures"
    record = factories.penalty(fine=20.0)  # 一般 for an organisation: published
    who = record["id"].split("-")[0]
    await outcome_of_request(ingest, tokens["TOKEN_" + who], record, stack_env["KAFKA_BOOTSTRAP"], topic)
