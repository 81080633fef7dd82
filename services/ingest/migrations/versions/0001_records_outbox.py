"""Accepted records, per-department receipt chains, the outbox and rejection counts.

Revision ID: ingest_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from services.common.tables import create_outbox

revision = "ingest_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chains",
        sa.Column("department", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("head_hash", sa.Text, nullable=False),
        schema="ingest",
    )
    op.create_table(
        "records",
        sa.Column("department", sa.Text, primary_key=True),
        sa.Column("record_id", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("record_type", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("subject_code", sa.Text, nullable=False),
        sa.Column("decision_date", sa.Date, nullable=False),
        sa.Column("content_hash", sa.LargeBinary, nullable=False),
        sa.Column("receipt", JSONB, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("department", "seq", name="records_department_seq"),
        schema="ingest",
    )
    create_outbox("ingest")
    op.create_table(
        "rejections",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("department", sa.Text, primary_key=True),
        sa.Column("record_type", sa.Text, primary_key=True),
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        schema="ingest",
    )


def downgrade() -> None:
    for table in ("rejections", "outbox", "records", "chains"):
        op.drop_table(table, schema="ingest")
