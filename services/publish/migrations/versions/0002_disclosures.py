"""Disclosures (公示), the outcome feed and objections (异议) of the publish service.

Revision ID: publish_0002
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "publish_0002"
down_revision = "publish_0001"
branch_labels = None
depends_on = None


def _schema() -> str:
    """``publish``, or the scratch schema `exchange audit replay` rebuilds the service in."""
    return str(context.config.attributes.get("schema", "publish"))


def upgrade() -> None:
    _disclosures()
    _feed()
    _objections()
    # Amendments are found by their target as well as by their subject (services/publish/store.py).
    op.execute(
        f"CREATE INDEX records_amendment_target ON {_schema()}.records "
        "(department, (record->'data'->>'target_record_id')) "
        "WHERE record_type IN ('record_correction', 'record_revocation')"
    )


def _disclosures() -> None:
    op.create_table(
        "disclosures",
        sa.Column("public_id", sa.Text, primary_key=True),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("record_type", sa.Text, nullable=False),
        sa.Column("subject_code", sa.Text, nullable=False),
        sa.Column("subject_name", sa.Text, nullable=False),  # public form: 张* for natural persons
        sa.Column("search_tokens", ARRAY(sa.Text), nullable=False),  # characters and pairs of subject_name
        sa.Column("decision_date", sa.Date, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("due_provisional", sa.Boolean, nullable=False),
        sa.Column("state", sa.Text, nullable=False),  # published | withdrawn | withheld
        sa.Column("exempt", sa.Boolean, nullable=False),  # withheld on purpose: no 7-working-day clock
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),  # first publication (met / late)
        sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
        sa.Column("publicity_until", sa.Date),  # 公示截止期, inclusive
        sa.Column("withdraw_on", sa.Date),  # the day after 公示截止期
        sa.Column("content", sa.Text, nullable=False),  # the masked public JSON (sorted keys), ready to serve
        sa.Column("objection_pending", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('published', 'withdrawn', 'withheld')", name="disclosures_state"),
        sa.UniqueConstraint("department", "record_id", name="disclosures_record"),
        schema=_schema(),
    )
    op.create_index("disclosures_subject", "disclosures", ["subject_code"], schema=_schema())
    # Newest first, with the name: the "newest records" step of a name search is an index-only scan.
    op.execute(
        f"CREATE INDEX disclosures_public_order ON {_schema()}.disclosures (decision_date DESC, public_id DESC) "
        "INCLUDE (subject_name) WHERE state = 'published'"
    )
    op.create_index(
        "disclosures_withdraw_on",
        "disclosures",
        ["withdraw_on"],
        schema=_schema(),
        postgresql_where=sa.text("state = 'published'"),
    )
    provisional = sa.text("due_provisional")
    op.create_index(
        "disclosures_provisional", "disclosures", ["due_date"], schema=_schema(), postgresql_where=provisional
    )
    op.create_index("disclosures_department_due", "disclosures", ["department", "due_date"], schema=_schema())
    _name_search_index()


def _name_search_index() -> None:
    """Part-of-name search: the name's characters and character pairs (search_tokens), GIN-indexed. Works
    for two-character Chinese fragments (鑫源), which trigram indexes cannot serve, and needs no extension."""
    op.execute(
        f"CREATE INDEX disclosures_name_tokens ON {_schema()}.disclosures USING gin (search_tokens) "
        "WHERE state = 'published'"
    )


def _feed() -> None:
    # Served in (txid, position) order, only below the oldest running transaction (services/publish/store.py).
    op.execute(
        f"""
        CREATE TABLE {_schema()}.feed (
            position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            event_id text NOT NULL UNIQUE,
            type text NOT NULL,
            subject text NOT NULL,
            time timestamptz NOT NULL,
            data jsonb NOT NULL
        )
        """
    )
    op.create_index("feed_order", "feed", ["txid", "position"], schema=_schema())


def _objections() -> None:
    op.create_table(
        "objections",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("public_id", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),  # the provider, who verifies
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("subject_code", sa.Text, nullable=False),
        sa.Column("raised_by", sa.Text, nullable=False),  # subject | <department code> | county
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("contact", sa.Text, nullable=False),  # personal data: never returned by the API
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("due_provisional", sa.Boolean, nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True)),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.Text),
        sa.Column("explanation", sa.Text),
        sa.Column("verification_id", sa.Text),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_by", sa.Text),
        sa.CheckConstraint(
            "state IN ('verifying', 'escalated', 'upheld', 'resolved', 'rejected')", name="objections_state"
        ),
        schema=_schema(),
    )
    op.create_index("objections_record", "objections", ["department", "record_id"], schema=_schema())
    op.create_index(
        "objections_open_due",
        "objections",
        ["due_date"],
        schema=_schema(),
        postgresql_where=sa.text("state IN ('verifying', 'escalated', 'upheld')"),
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {_schema()}.records_amendment_target")
    for table in ("objections", "feed", "disclosures"):
        op.drop_table(table, schema=_schema())
