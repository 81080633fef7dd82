"""Grades keep the records their explanation names (an objection on one suspends the grade's case), and
cases the day their state ends with no new record (a 拟列入告知's objection period), for the ticker.

Both are derived or kept from the outcome topics: a replay into an empty database rebuilds them.

Revision ID: sanctions_0003
Revises: sanctions_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "sanctions_0003"
down_revision = "sanctions_0002"
branch_labels = None
depends_on = None


def _schema() -> str:
    """`sanctions`, or the schema of a rebuild beside it (the migration config's `schema` attribute)."""
    config = op.get_context().config
    return str(config.attributes.get("schema", "sanctions")) if config is not None else "sanctions"


def upgrade() -> None:
    S = _schema()
    op.add_column("grades", sa.Column("rests_on", JSONB, nullable=False, server_default="[]"), schema=S)
    op.add_column("cases", sa.Column("review_on", sa.Date), schema=S)
    op.create_index(
        "cases_review_on", "cases", ["review_on"], schema=S, postgresql_where=sa.text("review_on IS NOT NULL")
    )


def downgrade() -> None:
    S = _schema()
    op.drop_index("cases_review_on", table_name="cases", schema=S)
    op.drop_column("cases", "review_on", schema=S)
    op.drop_column("grades", "rests_on", schema=S)
