"""Subjects and their current grade under the jurisdiction's rule set (derived state: a pure function of
the records in `records`, rebuilt by replaying them).

Revision ID: grading_0002
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

revision = "grading_0002"
down_revision = "grading_0001"
branch_labels = None
depends_on = None


def _schema() -> str:
    return str(context.config.attributes.get("schema", "grading"))


def upgrade() -> None:
    schema = _schema()
    op.create_table(
        "subjects",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        schema=schema,
    )
    op.create_table(
        "grades",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("rule_set", sa.Text, primary_key=True),
        sa.Column("rule_set_version", sa.Integer),
        sa.Column("grade", sa.Text),
        sa.Column("since", sa.Date),
        sa.Column("next_review", sa.Date),
        # When the ticker must look again: next_review, or the day a new version of the rule set takes
        # effect if that comes first (a new version may change the grade with no new record).
        sa.Column("review_on", sa.Date),
        sa.Column("supervision_level", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("subject_kind", sa.Text, nullable=False),
        sa.Column("explanation", JSONB, nullable=False),
        sa.Column("computed_on", sa.Date, nullable=False),
        sa.CheckConstraint("grade IN ('A', 'B', 'C', 'D')", name="grades_grade"),
        sa.CheckConstraint("supervision_level IN ('I', 'II', 'III', 'IV')", name="grades_level"),
        schema=schema,
    )
    # The ticker's question: whose grade may have changed by today with no new record?
    op.create_index(
        "grades_review_on",
        "grades",
        ["rule_set", "review_on"],
        schema=schema,
        postgresql_where=sa.text("review_on IS NOT NULL"),
    )


def downgrade() -> None:
    schema = _schema()
    op.drop_index("grades_review_on", table_name="grades", schema=schema)
    op.drop_table("grades", schema=schema)
    op.drop_table("subjects", schema=schema)
