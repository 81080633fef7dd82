"""The stage of a serious-untrustworthy listing record, so a 认定 can look for its 拟列入告知 (issue 15).

Rows stored before this revision keep NULL: their stage is not known (ingest keeps no record data), and
the check gives them the benefit of the doubt.

Revision ID: ingest_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "ingest_0002"
down_revision = "ingest_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("records", sa.Column("stage", sa.Text, nullable=True), schema="ingest")
    op.create_index(
        "records_listing_subject",
        "records",
        ["department", "subject_code"],
        schema="ingest",
        postgresql_where=sa.text("record_type = 'serious_untrustworthy_listing'"),
    )


def downgrade() -> None:
    op.drop_index("records_listing_subject", table_name="records", schema="ingest")
    op.drop_column("records", "stage", schema="ingest")
