"""Public search by a whole credit code (issue 19): the subject's published records, newest first, read in
index order (no sort), like the name search's newest-first and the list pages' per-type indexes.

Revision ID: publish_0006_search_by_code
"""

from alembic import op

revision = "publish_0006_search_by_code"
down_revision = "publish_0005_withdrawals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX disclosures_subject_order ON publish.disclosures "
        "(subject_code, decision_date DESC, public_id DESC) WHERE state = 'published'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS publish.disclosures_subject_order")
