"""Derivation stamps (issue 18: work per event independent of the subject's history).

Revision ID: publish_0007_derivations

One row per subject: a random stamp replaced by every transaction that derives the subject
(`services/publish/store/derivations.py`). A handler keeps what a whole-file derivation found (the documents
a 认定 rests on, the approved repairs, the as-of day) and, while the stamp is its own, derives a new record
that changes only itself without reading the subject's records and disclosures again.
"""

import sqlalchemy as sa
from alembic import context, op

revision = "publish_0007_derivations"
down_revision = "publish_0006_search_by_code"
branch_labels = None
depends_on = None


def _schema() -> str:
    """``publish``, or the scratch schema `exchange audit replay` rebuilds the service in."""
    return str(context.config.attributes.get("schema", "publish"))


def upgrade() -> None:
    op.create_table(
        "derivations",
        sa.Column("subject_code", sa.Text, primary_key=True),
        sa.Column("stamp", sa.BigInteger, nullable=False),
        schema=_schema(),
    )


def downgrade() -> None:
    op.drop_table("derivations", schema=_schema())
