"""Alembic, driven from code: each service owns a schema and a `migrations/` folder of its own.

A service's `migrations/env.py` only calls `run_env(schema)`; `upgrade(service)` is what `exchange
migrate` and the stack call before services start.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

SERVICES_DIR = Path(__file__).resolve().parents[1]

# Schema owned by each migration folder, in the order they must run.
SCHEMAS: dict[str, str] = {
    "identity": "common/identity_migrations",
    "ingest": "ingest/migrations",
    "grading": "grading/migrations",
    "sanctions": "sanctions/migrations",
    "publish": "publish/migrations",
    "supervision": "supervision/migrations",
    "reports": "reports/migrations",
    "workbench": "workbench/migrations",
    "bridge": "bridge/migrations",
}


def alembic_config(schema: str, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / SCHEMAS[schema]))
    cfg.attributes["database_url"] = database_url
    cfg.attributes["schema"] = schema
    return cfg


def upgrade(schema: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(schema, database_url), revision)


def upgrade_all(database_url: str) -> None:
    for schema in SCHEMAS:
        upgrade(schema, database_url)


def run_env() -> None:
    """Body of every service's `env.py` (online mode only: we always migrate a live database)."""
    cfg = context.config
    schema: str = cfg.attributes["schema"]
    url: str = cfg.attributes["database_url"]

    def migrate(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(connection=connection, version_table_schema=schema, transaction_per_migration=False)
        with context.begin_transaction():
            # Serialise concurrent migrators of the same schema (several replicas starting at once).
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": f"migrate:{schema}"})
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(main())
