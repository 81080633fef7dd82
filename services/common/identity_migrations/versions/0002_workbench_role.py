"""The workbench credential role (issue 17): the department workbench acts for its signed-in staff.

Revision ID: identity_0002
"""

from alembic import op

revision = "identity_0002"
down_revision = "identity_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("credentials_role", "credentials", schema="identity", type_="check")
    op.create_check_constraint(
        "credentials_role",
        "credentials",
        "role IN ('department', 'county', 'auditor', 'workbench')",
        schema="identity",
    )


def downgrade() -> None:
    op.drop_constraint("credentials_role", "credentials", schema="identity", type_="check")
    op.create_check_constraint(
        "credentials_role", "credentials", "role IN ('department', 'county', 'auditor')", schema="identity"
    )
