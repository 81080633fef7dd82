"""Issue 21: a grade change caused by a record carries the request id of the record's POST."""

from __future__ import annotations

import httpx

from tests.helpers import outcome_of_request
from tests.integration.grading.support import company, registration


async def test_the_grade_change_of_a_record_carries_its_request_id(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str], stack_env: dict[str, str]
) -> None:
    record = registration(company(), "2026-01-05")
    topic = stack_env["EXCHANGE_TOPIC_PREFIX"] + "outcomes.grades"
    who = record["id"].split("-")[0]
    await outcome_of_request(ingest, tokens["TOKEN_" + who], record, stack_env["KAFKA_BOOTSTRAP"], topic)
