"""Departments and credentials (hashed tokens) shared by every service.

Revision ID: identity_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        schema="identity",
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("department", sa.Text, sa.ForeignKey("identity.departments.code")),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("secret_hash", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("role IN ('department', 'county', 'auditor')", name="credentials_role"),
        sa.CheckConstraint("(role = 'department') = (department IS NOT NULL)", name="credentials_department"),
        schema="identity",
    )


def downgrade() -> None:
    op.drop_table("credentials", schema="identity")
    op.drop_table("departments", schema="identity")
