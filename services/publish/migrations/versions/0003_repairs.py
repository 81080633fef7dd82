"""Credit-repair cases (信用修复) of the publish service.

Revision ID: publish_0003
"""

import sqlalchemy as sa
from alembic import context, op

revision = "publish_0003"
down_revision = "publish_0002"
branch_labels = None
depends_on = None


def _schema() -> str:
    """``publish``, or the scratch schema `exchange audit replay` rebuilds the service in."""
    return str(context.config.attributes.get("schema", "publish"))


STATES = ("submitted", "accepted", "extended", "approved", "refused", "not_accepted")


def upgrade() -> None:
    op.create_table(
        "repairs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("public_id", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),  # the deciding department (谁认定、谁修复)
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("subject_code", sa.Text, nullable=False),
        sa.Column("raised_by", sa.Text, nullable=False),  # subject | <department code> | county
        sa.Column("commitment", sa.Text, nullable=False),  # 信用承诺
        sa.Column("fulfilment", sa.Text, nullable=False),  # how the legal obligations were fulfilled
        sa.Column("contact", sa.Text, nullable=False),  # personal data: never returned by the API
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accept_due", sa.Date, nullable=False),
        sa.Column("decide_due", sa.Date, nullable=False),
        sa.Column("due_provisional", sa.Boolean, nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True)),
        sa.Column("extended_at", sa.DateTime(timezone=True)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decision", sa.Text),  # the latest decision applied
        sa.Column("explanation", sa.Text),
        sa.Column("decision_record_ids", sa.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("acceptance_escalated_at", sa.DateTime(timezone=True)),
        sa.Column("decision_escalated_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(f"state IN {STATES!r}", name="repairs_state"),
        schema=_schema(),
    )
    op.create_index("repairs_record", "repairs", ["department", "record_id"], schema=_schema())
    # At most one application in progress per record.
    op.create_index(
        "repairs_one_open_per_record",
        "repairs",
        ["department", "record_id"],
        unique=True,
        schema=_schema(),
        postgresql_where=sa.text("state IN ('submitted', 'accepted', 'extended')"),
    )
    op.create_index(
        "repairs_open_due",
        "repairs",
        ["decide_due"],
        schema=_schema(),
        postgresql_where=sa.text("state IN ('submitted', 'accepted', 'extended')"),
    )


def downgrade() -> None:
    op.drop_table("repairs", schema=_schema())
