"""The 3-working-day withdrawal clock (行政处罚法 Art. 48, DOMAIN §4): one row per published record taken down
or changed by its department's revocation or correction.

Revision ID: publish_0005_withdrawals
"""

import sqlalchemy as sa
from alembic import context, op

revision = "publish_0005_withdrawals"
down_revision = "publish_0004"
branch_labels = None
depends_on = None


def _schema() -> str:
    """``publish``, or the scratch schema `exchange audit replay` rebuilds the service in."""
    return str(context.config.attributes.get("schema", "publish"))


def upgrade() -> None:
    op.create_table(
        "withdrawals",
        sa.Column("public_id", sa.Text, primary_key=True),
        sa.Column("amendment_id", sa.Text, primary_key=True),  # the department's revocation or correction
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("record_type", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),  # record_revocation | record_correction
        sa.Column("decided", sa.Date, nullable=False),  # the revocation / change decision: the clock starts
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),  # the amendment reached ingest
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("due_provisional", sa.Boolean, nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),  # the old content left the portal
        schema=_schema(),
    )
    op.create_index("withdrawals_department_due", "withdrawals", ["department", "due_date"], schema=_schema())
    op.create_index(
        "withdrawals_provisional",
        "withdrawals",
        ["due_date"],
        schema=_schema(),
        postgresql_where=sa.text("due_provisional"),
    )


def downgrade() -> None:
    op.drop_table("withdrawals", schema=_schema())
