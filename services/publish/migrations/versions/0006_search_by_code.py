"""Public search by a whole credit code (issue 19): the subject's published records, newest first, read in
index order (no sort), like the name search's newest-first and the list pages' per-type indexes.

Revision ID: publish_0006_search_by_code
"""

from alembic import context, op

revision = "publish_0006_search_by_code"
down_revision = "publish_0005_withdrawals"
branch_labels = None
depends_on = None


def _schema() -> str:
    """``publish``, or the scratch schema `exchange audit replay` rebuilds the service in."""
    return str(context.config.attributes.get("schema", "publish"))


def upgrade() -> None:
    op.execute(
        f"CREATE INDEX disclosures_subject_order ON {_schema()}.disclosures "
        "(subject_code, decision_date DESC, public_id DESC) WHERE state = 'published'"
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {_schema()}.disclosures_subject_order")
