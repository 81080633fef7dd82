"""Each subject's grading state: what grading needs of its records, kept instead of reading them again.

Revision ID: grading_0005

One row per subject of at least a few records (`services.grading.rules.subject_state`): the state encoded,
and the stamp of the records it was derived from (their count, highest `seq` and sum of
`hashtext('<department>/<record id>')`, as `SubjectFiles` checks a kept file). Written in the transaction
that stores the subject's records; a row whose stamp does not match the table is not used (the subject is
graded from its records and the row written again). Derived from the records alone: dropping the table
loses nothing but time (docs/decisions.md, issue 18 — grading's per-subject state).
"""

import sqlalchemy as sa
from alembic import context, op

revision = "grading_0005"
down_revision = "grading_0004"
branch_labels = None
depends_on = None


def _schema() -> str:
    return str(context.config.attributes.get("schema", "grading"))


def upgrade() -> None:
    op.create_table(
        "subject_state",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("record_count", sa.Integer, nullable=False),
        sa.Column("max_seq", sa.BigInteger, nullable=False),
        sa.Column("key_sum", sa.BigInteger, nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        schema=_schema(),
    )


def downgrade() -> None:
    op.drop_table("subject_state", schema=_schema())
