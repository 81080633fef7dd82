"""Migration helpers for the tables every consuming or producing service has in its own schema."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB


def create_inbox(schema: str) -> None:
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="applied"),
        sa.Column("error", sa.Text),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )


def create_outbox(schema: str) -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )


def create_received_records(schema: str) -> None:
    """The records a service has consumed, as accepted by ingest (its input, kept for rebuilds)."""
    op.create_table(
        "records",
        sa.Column("department", sa.Text, primary_key=True),
        sa.Column("record_id", sa.Text, primary_key=True),
        sa.Column("record_type", sa.Text, nullable=False),
        sa.Column("subject_code", sa.Text, nullable=False),
        sa.Column("decision_date", sa.Date, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record", JSONB, nullable=False),
        sa.Column("receipt", JSONB, nullable=False),
        schema=schema,
    )
    op.create_index("records_subject", "records", ["subject_code"], schema=schema)
