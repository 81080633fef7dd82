"""Inbox, outbox, consumed records, grades from outcomes.grades; plans and their draws; and the derived
obligations, consequences and proposals of each subject.

Revision ID: supervision_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from services.common.tables import create_inbox, create_outbox, create_received_records

revision = "supervision_0001"
down_revision = None
branch_labels = None
depends_on = None


def _schema() -> str:
    config = op.get_context().config
    return str(config.attributes.get("schema", "supervision")) if config is not None else "supervision"


def upgrade() -> None:
    S = _schema()
    create_inbox(S)
    create_outbox(S)
    create_received_records(S)
    op.create_table(
        "grades",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("rule_set", sa.Text, primary_key=True),
        sa.Column("grade", sa.Text),
        sa.Column("level", sa.Text),
        sa.Column("effective_level", sa.Text),  # grading's, or higher where a district raised it (000 L295)
        sa.Column("subject_kind", sa.Text),
        sa.Column("subject_name", sa.Text),
        sa.Column("since", sa.Date, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        schema=S,
    )
    op.create_index("grades_rule_set", "grades", ["rule_set"], schema=S)
    # Plans are the service's own input (a department's act), kept here and published on
    # outcomes.supervision with everything needed to re-draw them.
    op.create_table(
        "plans",
        sa.Column("plan_id", sa.Text, primary_key=True),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("plan_name", sa.Text, nullable=False),
        sa.Column("matter", sa.Text, nullable=False),
        sa.Column("rule_set", sa.Text, nullable=False),
        sa.Column("period_from", sa.Date, nullable=False),
        sa.Column("period_to", sa.Date, nullable=False),
        sa.Column("seed", sa.Text, nullable=False),
        sa.Column("population_size", sa.Integer, nullable=False),
        sa.Column("drawn_count", sa.Integer, nullable=False),
        sa.Column("published", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("plans_department", "plans", ["department"], schema=S)
    op.create_table(
        "plan_subjects",
        sa.Column("plan_id", sa.Text, primary_key=True),
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("stratum", sa.Text, nullable=False),
        sa.Column("inspectors", JSONB, nullable=False),
        schema=S,
    )
    op.create_index("plan_subjects_code", "plan_subjects", ["code"], schema=S)
    op.create_table(
        "obligations",
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("since", sa.Date, nullable=False),
        sa.Column("basis", sa.Text, nullable=False),
        sa.Column("record_ids", JSONB, nullable=False),
        sa.Column("done_on", sa.Date),
        sa.Column("done_record", sa.Text),
        sa.Column("level", sa.Text),
        schema=S,
    )
    op.create_index("obligations_code", "obligations", ["code"], schema=S)
    op.create_index("obligations_department_due", "obligations", ["department", "due"], schema=S)
    op.create_table(
        "consequences",
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("scale", sa.Text, nullable=False),
        sa.Column("grade", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_until", sa.Date),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        schema=S,
    )
    op.create_index("consequences_code", "consequences", ["code"], schema=S)
    op.create_table(
        "proposals",
        sa.Column("proposal_id", sa.Text, primary_key=True),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("candidate_from", sa.Date, nullable=False),
        sa.Column("evidence", JSONB, nullable=False),
        sa.Column("details", JSONB, nullable=False),
        sa.Column("subject_name", sa.Text),
        schema=S,
    )
    op.create_index("proposals_department", "proposals", ["department", "candidate_from"], schema=S)
    op.create_index("proposals_code", "proposals", ["code"], schema=S)


def downgrade() -> None:
    for table in (
        "proposals",
        "consequences",
        "obligations",
        "plan_subjects",
        "plans",
        "grades",
        "records",
        "outbox",
        "inbox",
    ):
        op.drop_table(table, schema=_schema())
