"""List pages and list expiry (issue 15): published records by type, newest first; list rows in force.

Revision ID: publish_0004
"""

from alembic import context, op

revision = "publish_0004"
down_revision = "publish_0003"
branch_labels = None
depends_on = None


def _schema() -> str:
    """``publish``, or the scratch schema `exchange audit replay` rebuilds the service in."""
    return str(context.config.attributes.get("schema", "publish"))


def upgrade() -> None:
    # The portal's list pages (/lists/<type>) page through one type's published records, newest first.
    op.execute(
        f"CREATE INDEX disclosures_type_order ON {_schema()}.disclosures "
        "(record_type, decision_date DESC, public_id DESC) WHERE state = 'published'"
    )
    # The ticker finds list entries whose period ended, published or not (a watch-list entry is never
    # published, but its expiry is announced): list rows are exempt and carry withdraw_on only while in force.
    op.execute(
        f"CREATE INDEX disclosures_exempt_withdraw_on ON {_schema()}.disclosures (withdraw_on) "
        "WHERE exempt AND withdraw_on IS NOT NULL"
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {_schema()}.disclosures_exempt_withdraw_on")
    op.execute(f"DROP INDEX IF EXISTS {_schema()}.disclosures_type_order")
