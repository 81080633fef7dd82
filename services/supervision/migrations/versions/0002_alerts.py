"""Alerts sent (each commitment past its due date is announced once to its accepting department) and the
county composite evaluation (公共信用综合评价) of each subject over time.

Revision ID: supervision_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "supervision_0002"
down_revision = "supervision_0001"
branch_labels = None
depends_on = None


def _schema() -> str:
    config = op.get_context().config
    return str(config.attributes.get("schema", "supervision")) if config is not None else "supervision"


def upgrade() -> None:
    S = _schema()
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.Text, primary_key=True),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        schema=S,
    )
    op.create_index("alerts_code", "alerts", ["code"], schema=S)
    op.create_table(
        "composite",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("valid_from", sa.Date, primary_key=True),
        sa.Column("valid_until", sa.Date),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("band", sa.Text, nullable=False),
        sa.Column("items", JSONB, nullable=False),
        schema=S,
    )
    op.create_index("composite_band", "composite", ["band", "valid_from"], schema=S)


def downgrade() -> None:
    op.drop_table("composite", schema=_schema())
    op.drop_table("alerts", schema=_schema())
