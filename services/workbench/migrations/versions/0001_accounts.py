"""Workbench staff accounts, sessions, the action trail and uploaded sheets' results (issue 17).

Revision ID: workbench_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "workbench_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.Text, primary_key=True),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("department", sa.Text),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("failed_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('clerk', 'head', 'county')", name="users_role"),
        sa.CheckConstraint("(role = 'county') = (department IS NULL)", name="users_department"),
        schema="workbench",
    )
    op.create_table(
        "sessions",
        # SHA-256 of the cookie value: a database dump does not hand out live sessions.
        sa.Column("id_hash", sa.LargeBinary, primary_key=True),
        sa.Column("username", sa.Text, sa.ForeignKey("workbench.users.username"), nullable=False),
        sa.Column("csrf", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        schema="workbench",
    )
    op.create_table(
        "actions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("department", sa.Text),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("record_id", sa.Text),
        sa.Column("receipt_hash", sa.Text),
        sa.Column("receipt_seq", sa.BigInteger),
        sa.Column("detail", JSONB, nullable=False, server_default="{}"),
        schema="workbench",
    )
    op.create_index("actions_record", "actions", ["department", "record_id"], schema="workbench")
    op.create_index("actions_user", "actions", ["username", "at"], schema="workbench")
    op.create_table(
        "uploads",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("record_type", sa.Text, nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("result", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema="workbench",
    )


def downgrade() -> None:
    for table in ("uploads", "actions", "sessions", "users"):
        op.drop_table(table, schema="workbench")
