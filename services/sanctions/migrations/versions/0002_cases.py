"""Cases, instructions with their feedback state, related-person links, objections, grades and checks.

Everything here except `checks` is derived (cases, instructions, related_persons) or an input kept from
the outcome topics (objections, grades): a replay into an empty database rebuilds it.

Revision ID: sanctions_0002
Revises: sanctions_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "sanctions_0002"
down_revision = "sanctions_0001"
branch_labels = None
depends_on = None


def _schema() -> str:
    """`sanctions`, or the schema of a rebuild beside it (the migration config's `schema` attribute)."""
    config = op.get_context().config
    return str(config.attributes.get("schema", "sanctions")) if config is not None else "sanctions"


def upgrade() -> None:
    S = _schema()
    op.create_table(
        "cases",
        sa.Column("case_id", sa.Text, primary_key=True),
        sa.Column("subject_code", sa.Text, nullable=False),
        sa.Column("subject_kind", sa.Text, nullable=False),
        sa.Column("subject_name", sa.Text),
        sa.Column("nature", sa.Text, nullable=False),  # sanction | reward
        sa.Column("trigger_kind", sa.Text, nullable=False),
        sa.Column("trigger_department", sa.Text),
        sa.Column("trigger_record_id", sa.Text, nullable=False),
        sa.Column("since", sa.Date, nullable=False),
        sa.Column("until", sa.Date),
        sa.Column("state", sa.Text, nullable=False),  # open | suspended | lifted
        sa.Column("state_since", sa.Date, nullable=False),
        sa.Column("state_reason", sa.Text),
        sa.Column("wrongful", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("objection_ids", JSONB, nullable=False),
        sa.Column("departments", JSONB, nullable=False),
        sa.Column("measures", JSONB, nullable=False),
        sa.Column("measure_list_version", sa.Text, nullable=False),
        sa.Column("emitted", JSONB, nullable=False),  # ids of the lifecycle events already sent
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_index("cases_subject", "cases", ["subject_code"], schema=S)
    op.create_index("cases_state_until", "cases", ["state", "until"], schema=S)
    op.create_table(
        "instructions",
        sa.Column("instruction_id", sa.Text, primary_key=True),
        sa.Column("case_id", sa.Text, nullable=False),
        sa.Column("subject_code", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("measures", JSONB, nullable=False),
        sa.Column("persons", JSONB, nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("feedback_state", sa.Text, nullable=False),  # pending | partial | answered
        sa.Column("feedback", JSONB, nullable=False),
        sa.Column("unanswered_measures", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_index("instructions_case", "instructions", ["case_id"], schema=S)
    op.create_index("instructions_department", "instructions", ["department", "feedback_state"], schema=S)
    op.create_index("instructions_subject", "instructions", ["subject_code"], schema=S)
    op.create_table(
        "related_persons",
        sa.Column("person_code", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, primary_key=True),
        sa.Column("case_id", sa.Text, primary_key=True),
        sa.Column("subject_code", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("id_type", sa.Text, nullable=False),
        sa.Column("measure_ids", JSONB, nullable=False),
        schema=S,
    )
    op.create_index("related_persons_subject", "related_persons", ["subject_code"], schema=S)
    op.create_table(
        "objections",
        sa.Column("objection_id", sa.Text, primary_key=True),
        sa.Column("subject_code", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_on", sa.Date, nullable=False),
        sa.Column("withdrawn_on", sa.Date),
        schema=S,
    )
    op.create_index("objections_subject", "objections", ["subject_code"], schema=S)
    op.create_table(
        "grades",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("rule_set", sa.Text, nullable=False),
        sa.Column("effective_date", sa.Date, nullable=False),
        sa.Column("grade", sa.Text),
        sa.Column("subject_kind", sa.Text),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("grades_code", "grades", ["code"], schema=S)
    op.create_table(
        "checks",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("credential_id", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("department", sa.Text),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("matter", sa.Text, nullable=False),
        sa.Column("on_date", sa.Date, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text),
        schema=S,
    )
    op.create_index("checks_code", "checks", ["code", "at"], schema=S)
    op.create_index("checks_department", "checks", ["department", "at"], schema=S)
    # Feedback is matched to its case by the case id it names, whatever subject code it was filed under.
    op.execute(
        f"CREATE INDEX records_feedback_case ON {S}.records ((record->'data'->>'case_id')) "
        "WHERE record_type = 'sanction_feedback'"
    )


def downgrade() -> None:
    S = _schema()
    op.execute(f"DROP INDEX IF EXISTS {S}.records_feedback_case")
    for table in ("checks", "grades", "objections", "related_persons", "instructions", "cases"):
        op.drop_table(table, schema=S)
