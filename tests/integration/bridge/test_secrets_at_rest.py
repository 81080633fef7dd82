"""Webhook secrets are sealed at rest (services/bridge/secret_box.py): the database row never holds the
secret, deliveries still verify with it, and a subscription stored in clear by an earlier version keeps
working and is sealed by the bridge's start-up pass."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.stack import Stack
from services.bridge.secret_box import SEALED, SecretBox, seal_stored
from services.common.db import create_engine, sql
from tests.helpers import eventually
from tests.integration.bridge.conftest import Outcomes, bearer, disclosure, on_loopback, subject_code
from tests.integration.bridge.test_webhooks import Receiver, subscribe


@pytest.fixture
async def engine(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(stack.database_url, pool_size=1)
    yield engine
    await engine.dispose()


async def _stored(engine: AsyncEngine, sub_id: str) -> str:
    async with engine.connect() as conn:
        row = (await conn.execute(sql("SELECT secret FROM bridge.subscriptions WHERE id = :id"), {"id": sub_id})).one()
    return str(row.secret)


async def _delivered(receiver: Receiver, outcomes: Outcomes) -> None:
    """One disclosure event reaches the receiver, which verifies its Standard Webhooks signature."""
    event = disclosure(subject_code())
    await outcomes.send("outcomes.disclosures", [event])

    async def arrived() -> bool:
        return event.id in {r[0] for r in receiver.received}

    await eventually(arrived, what="the delivery, verified with the subscription's secret")


async def test_the_secret_is_not_in_the_database_row_and_deliveries_still_verify(
    bridge: httpx.AsyncClient, tokens: dict[str, str], outcomes: Outcomes, engine: AsyncEngine
) -> None:
    receiver = Receiver()
    async with on_loopback(receiver.app) as base:
        sub = await subscribe(bridge, tokens, base + "/hook", ["disclosure"])
        receiver.secret = sub["secret"]
        stored = await _stored(engine, sub["id"])
        key_bytes = sub["secret"].removeprefix("whsec_")
        assert stored.startswith(SEALED)
        assert sub["secret"] not in stored
        assert key_bytes not in stored
        assert base64.b64decode(key_bytes) not in stored.encode()
        await _delivered(receiver, outcomes)  # Receiver raises (no 2xx) if the signature does not verify
        await bridge.delete(f"/v1/subscriptions/{sub['id']}", headers=bearer(tokens, "COUNTY"))


async def test_a_secret_stored_in_clear_by_an_earlier_version_keeps_verifying_and_is_sealed_at_start(
    bridge: httpx.AsyncClient, tokens: dict[str, str], outcomes: Outcomes, engine: AsyncEngine
) -> None:
    receiver = Receiver()
    receiver.secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    sub_id = "sub_" + secrets.token_hex(8)
    async with on_loopback(receiver.app) as base:
        async with engine.begin() as conn:  # as the bridge stored subscriptions before sealing
            await conn.execute(
                sql(
                    "INSERT INTO bridge.subscriptions (id, credential_id, role, department, url, types, secret, "
                    "created_at) VALUES (:id, 'legacy', 'county', NULL, :url, :types, :secret, :at)"
                ),
                {
                    "id": sub_id,
                    "url": base + "/hook",
                    "types": ["disclosure"],
                    "secret": receiver.secret,
                    "at": datetime.now(UTC),
                },
            )
        await _delivered(receiver, outcomes)  # read in clear until sealed
        # The pass the bridge runs at start (app.seal_at_start) with the key it runs with (here the
        # development key: the test bridge is given none).
        assert await seal_stored(engine, SecretBox.from_text(None)) >= 1
        stored = await _stored(engine, sub_id)
        assert stored.startswith(SEALED)
        assert receiver.secret not in stored
        assert await seal_stored(engine, SecretBox.from_text(None)) == 0  # nothing left in clear
        await _delivered(receiver, outcomes)  # the sealed form opens to the same secret
        await bridge.delete(f"/v1/subscriptions/{sub_id}", headers=bearer(tokens, "COUNTY"))
