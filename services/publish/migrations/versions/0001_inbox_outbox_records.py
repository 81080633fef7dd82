"""Inbox, outbox and the consumed records of the publish service.

Revision ID: publish_0001
"""

from services.common.tables import create_inbox, create_outbox, create_received_records

revision = "publish_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_inbox("publish")
    create_outbox("publish")
    create_received_records("publish")


def downgrade() -> None:
    from alembic import op

    for table in ("records", "outbox", "inbox"):
        op.drop_table(table, schema="publish")
