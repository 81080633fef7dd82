"""The accepted record itself, for read-back (`GET /v1/records/{id}`, issue 21): a department reconciles
what the exchange holds without replaying Kafka. Plus the index `GET /v1/receipts?from&to` pages by.

Rows stored before this revision keep NULL: read-back answers their receipt with `record: null` (the
record is still on its Kafka topic, where the audit replay reads it).

Revision ID: ingest_0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "ingest_0003"
down_revision = "ingest_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("records", sa.Column("record", JSONB, nullable=True), schema="ingest")
    op.create_index("records_received", "records", ["department", "received_at"], schema="ingest")


def downgrade() -> None:
    op.drop_index("records_received", table_name="records", schema="ingest")
    op.drop_column("records", "record", schema="ingest")
