"""Issue 21: the sanction events a listing causes carry the request id of the listing's POST."""

from __future__ import annotations

import httpx

from tests import factories
from tests.helpers import outcome_of_request
from tests.integration.sanctions.support import serious_listing


async def test_the_case_events_of_a_listing_carry_its_request_id(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str], stack_env: dict[str, str]
) -> None:
    listing = serious_listing(factories.uscc())
    who = listing["id"].split("-")[0]
    topic = stack_env["EXCHANGE_TOPIC_PREFIX"] + "outcomes.sanctions"
    await outcome_of_request(ingest, tokens["TOKEN_" + who], listing, stack_env["KAFKA_BOOTSTRAP"], topic)
