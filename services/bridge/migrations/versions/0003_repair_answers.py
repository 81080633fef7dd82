"""The county's answers on repair applications, found by repair id in the feed: an answer the bridge saw
before the application's forward row was committed is sent back when that row is written (issue 20).

Revision ID: bridge_0003
"""

from alembic import op

revision = "bridge_0003"
down_revision = "bridge_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX feed_repair_answers ON bridge.feed ((data ->> 'repair_id')) "
        "WHERE type = 'cn.credit.repair.answered'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX bridge.feed_repair_answers")
