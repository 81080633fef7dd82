"""The digest of each stored explanation, so a poll can tell whether a new grade's explanation differs without
reading the stored one back (docs/decisions.md, issue 18: a heavy subject's explanation is ~67 KB).

Revision ID: grading_0004

NULL for rows written before: such a row is written again (with its digest) at its next grading.
"""

import sqlalchemy as sa
from alembic import context, op

revision = "grading_0004"
down_revision = "grading_0003"
branch_labels = None
depends_on = None


def _schema() -> str:
    return str(context.config.attributes.get("schema", "grading"))


def upgrade() -> None:
    op.add_column("grades", sa.Column("explanation_digest", sa.LargeBinary), schema=_schema())


def downgrade() -> None:
    op.drop_column("grades", "explanation_digest", schema=_schema())
