"""Rebuilding the reports service's inputs from the topics into an empty schema (DOMAIN §10): an auditor
replays the record and outcome topics and gets the same credit view for the same as-of date, because the
view is a pure function of those events (`rules.view.credit_view`)."""

from __future__ import annotations

from collections.abc import Collection

from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audit.topic_reader import read_all
from services.common.catalogue import load_catalogue
from services.common.envelope import CloudEvent
from services.common.kafka import NO_AUTH, KafkaAuth
from services.common.migrations import alembic_config
from services.common.settings import CommonSettings
from services.reports.handlers import OUTCOME_TOPICS, batch_handler


def migrate_schema(schema: str, database_url: str) -> None:
    """Create `schema` with the reports tables (blocking: Alembic runs its own loop; call from a thread)."""
    config = alembic_config("reports", database_url)
    config.attributes["schema"] = schema
    command.upgrade(config, "head")


def consumed_topics(settings: CommonSettings) -> list[str]:
    catalogue = load_catalogue(settings.schemas_dir)
    records = [settings.topic(n) for n, t in sorted(catalogue.topics.items()) if t.kind == "record"]
    return [*records, *(settings.topic(n) for n in OUTCOME_TOPICS)]


async def rebuild(
    engine: AsyncEngine,
    schema: str,
    settings: CommonSettings,
    *,
    subjects: Collection[str] | None = None,
    auth: KafkaAuth = NO_AUTH,
) -> int:
    """Apply every record and outcome event (of `subjects` only, if given) to `schema`; returns how many."""
    handle = batch_handler(schema)
    wanted = {s.encode() for s in subjects} if subjects is not None else None
    applied = 0
    async for message in read_all(settings.kafka_bootstrap, consumed_topics(settings), auth=auth):
        if wanted is not None and message.key not in wanted:
            continue
        event = CloudEvent.from_kafka(message.headers, message.value or b"")
        async with engine.begin() as conn:
            await handle(conn, [event])
        applied += 1
    return applied
