"""Inbox, outbox and the consumed records of the grading service.

Revision ID: grading_0001
"""

from services.common.tables import create_inbox, create_outbox, create_received_records

revision = "grading_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_inbox("grading")
    create_outbox("grading")
    create_received_records("grading")


def downgrade() -> None:
    from alembic import op

    for table in ("records", "outbox", "inbox"):
        op.drop_table(table, schema="grading")
