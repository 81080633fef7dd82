"""Inbox, outbox and the consumed records of the sanctions service.

Revision ID: sanctions_0001
"""

from alembic import op

from services.common.tables import create_inbox, create_outbox, create_received_records

revision = "sanctions_0001"
down_revision = None
branch_labels = None
depends_on = None


def _schema() -> str:
    """`sanctions`, or the schema of a rebuild beside it (the migration config's `schema` attribute)."""
    config = op.get_context().config
    return str(config.attributes.get("schema", "sanctions")) if config is not None else "sanctions"


def upgrade() -> None:
    create_inbox(_schema())
    create_outbox(_schema())
    create_received_records(_schema())


def downgrade() -> None:
    for table in ("records", "outbox", "inbox"):
        op.drop_table(table, schema=_schema())
