"""List pages and list expiry (issue 15): published records by type, newest first; list rows in force.

Revision ID: publish_0004
"""

from alembic import op

revision = "publish_0004"
down_revision = "publish_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The portal's list pages (/lists/<type>) page through one type's published records, newest first.
    op.execute(
        "CREATE INDEX disclosures_type_order ON publish.disclosures (record_type, decision_date DESC, public_id DESC) "
        "WHERE state = 'published'"
    )
    # The ticker finds list entries whose period ended, published or not (a watch-list entry is never
    # published, but its expiry is announced): list rows are exempt and carry withdraw_on only while in force.
    op.execute(
        "CREATE INDEX disclosures_exempt_withdraw_on ON publish.disclosures (withdraw_on) "
        "WHERE exempt AND withdraw_on IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS publish.disclosures_exempt_withdraw_on")
    op.execute("DROP INDEX IF EXISTS publish.disclosures_type_order")
