"""Inbox, outbox and the consumed records of the sanctions service.

Revision ID: sanctions_0001
"""

from services.common.tables import create_inbox, create_outbox, create_received_records

revision = "sanctions_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_inbox("sanctions")
    create_outbox("sanctions")
    create_received_records("sanctions")


def downgrade() -> None:
    from alembic import op

    for table in ("records", "outbox", "inbox"):
        op.drop_table(table, schema="sanctions")
