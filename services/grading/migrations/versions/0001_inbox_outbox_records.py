"""Inbox, outbox and the consumed records of the grading service.

Revision ID: grading_0001

The schema is the one the migration run names (`grading` for the service; a replay into an empty schema
names its own, see `services.grading.replay.migrate_schema`).
"""

from alembic import context

from services.common.tables import create_inbox, create_outbox, create_received_records

revision = "grading_0001"
down_revision = None
branch_labels = None
depends_on = None


def _schema() -> str:
    return str(context.config.attributes.get("schema", "grading"))


def upgrade() -> None:
    schema = _schema()
    create_inbox(schema)
    create_outbox(schema)
    create_received_records(schema)


def downgrade() -> None:
    from alembic import op

    for table in ("records", "outbox", "inbox"):
        op.drop_table(table, schema=_schema())
