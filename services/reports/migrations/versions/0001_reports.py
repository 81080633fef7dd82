"""Inbox, outbox, consumed records and outcome events, issued reports and batch checks.

Revision ID: reports_0001
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

from services.common.tables import create_inbox, create_outbox, create_received_records

revision = "reports_0001"
down_revision = None
branch_labels = None
depends_on = None


def _schema() -> str:
    return str(context.config.attributes.get("schema", "reports"))


def upgrade() -> None:
    schema = _schema()
    create_inbox(schema)
    create_outbox(schema)
    create_received_records(schema)
    op.create_table(
        "outcomes",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("subject_code", sa.Text, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSONB, nullable=False),
        schema=schema,
    )
    op.create_index("outcomes_subject", "outcomes", ["subject_code"], schema=schema)
    op.execute(f"CREATE SEQUENCE {schema}.report_seq")
    op.execute(f"CREATE SEQUENCE {schema}.check_seq")
    op.create_table(
        "reports",
        sa.Column("number", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("subject_code", sa.Text, nullable=False),
        sa.Column("requester", sa.Text, nullable=False),  # department code, or "public"
        sa.Column("credential_id", sa.Text),
        sa.Column("matter", sa.Text),
        sa.Column("purpose", sa.Text),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("content", JSONB, nullable=False),
        sa.Column("content_digest", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("html", sa.LargeBinary, nullable=False),
        sa.Column("pdf", sa.LargeBinary),
        sa.Column("html_sha256", sa.Text, nullable=False),
        sa.Column("pdf_sha256", sa.Text),
        sa.Column("superseded_by", sa.Text),
        schema=schema,
    )
    op.create_index("reports_scope", "reports", ["subject_code", "requester", "kind", "matter"], schema=schema)
    op.create_table(
        "checks",
        sa.Column("number", sa.Text, primary_key=True),
        sa.Column("department", sa.Text),
        sa.Column("credential_id", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("matter", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("codes", sa.Integer, nullable=False),
        sa.Column("answers", JSONB, nullable=False),
        schema=schema,
    )
    op.create_index("checks_at", "checks", ["at"], schema=schema)


def downgrade() -> None:
    schema = _schema()
    for table in ("checks", "reports", "outcomes", "records", "outbox", "inbox"):
        op.drop_table(table, schema=schema)
    op.execute(f"DROP SEQUENCE {schema}.report_seq")
    op.execute(f"DROP SEQUENCE {schema}.check_seq")
