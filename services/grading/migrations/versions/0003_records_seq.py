"""A sequence number on the consumed records, so a subject's file can be read from where it was last read.

Revision ID: grading_0003

Rows of one subject are inserted only under the subject's advisory lock (`store.lock_subjects`), so
within a subject a later transaction's rows have higher numbers than every row committed before it: the
rows above the highest number a reader has seen are exactly the ones added since
(`services.common.records.SubjectFiles`).
"""

import sqlalchemy as sa
from alembic import context, op

revision = "grading_0003"
down_revision = "grading_0002"
branch_labels = None
depends_on = None


def _schema() -> str:
    return str(context.config.attributes.get("schema", "grading"))


def upgrade() -> None:
    schema = _schema()
    op.add_column("records", sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False), schema=schema)
    op.create_index("records_subject_seq", "records", ["subject_code", "seq"], schema=schema)
    op.drop_index("records_subject", table_name="records", schema=schema)


def downgrade() -> None:
    schema = _schema()
    op.create_index("records_subject", "records", ["subject_code"], schema=schema)
    op.drop_index("records_subject_seq", table_name="records", schema=schema)
    op.drop_column("records", "seq", schema=schema)
