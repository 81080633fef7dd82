"""Inbox, outbox and the consumed records of the publish service.

Revision ID: publish_0001
"""

from alembic import context

from services.common.tables import create_inbox, create_outbox, create_received_records

revision = "publish_0001"
down_revision = None
branch_labels = None
depends_on = None


def _schema() -> str:
    """``publish``, or the scratch schema `exchange audit replay` rebuilds the service in."""
    return str(context.config.attributes.get("schema", "publish"))


def upgrade() -> None:
    create_inbox(_schema())
    create_outbox(_schema())
    create_received_records(_schema())


def downgrade() -> None:
    from alembic import op

    for table in ("records", "outbox", "inbox"):
        op.drop_table(table, schema=_schema())
