"""Inbound national lists (files and their rows with per-row state), repair applications forwarded by
信用中国 (with their external reference), and the index the webhook claim walks (issue 20).

Revision ID: bridge_0002
"""

from alembic import op

revision = "bridge_0002"
down_revision = "bridge_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE bridge.inbound_files (
            id text PRIMARY KEY,
            batch_id text NOT NULL,
            received_at timestamptz NOT NULL,
            received_by text NOT NULL,
            rows integer NOT NULL
        )
        """
    )
    op.execute(
        """
        CREATE TABLE bridge.inbound_rows (
            file_id text NOT NULL REFERENCES bridge.inbound_files (id),
            n integer NOT NULL,
            row_id text,
            list text,
            department text,
            record_type text,
            subject text,
            envelope jsonb,
            state text NOT NULL,
            receipt jsonb,
            errors jsonb NOT NULL DEFAULT '[]'::jsonb,
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL,
            lease_until timestamptz,
            last_error text,
            done_at timestamptz,
            PRIMARY KEY (file_id, n)
        )
        """
    )
    op.execute("CREATE INDEX inbound_pending ON bridge.inbound_rows (next_attempt_at) WHERE state = 'pending'")
    op.execute(
        """
        CREATE TABLE bridge.repair_forwards (
            reference text PRIMARY KEY,
            repair_id text UNIQUE,
            record_id text NOT NULL,
            subject text NOT NULL,
            received_at timestamptz NOT NULL,
            state text NOT NULL,
            answer jsonb NOT NULL
        )
        """
    )
    # The webhook claim walks pending deliveries in id order and probes each one's predecessor in its
    # (subscription, subject) queue (deliveries_pending); this index makes the walk start at the oldest.
    op.execute("CREATE INDEX deliveries_pending_id ON bridge.deliveries (id) WHERE state = 'pending'")


def downgrade() -> None:
    op.execute("DROP INDEX bridge.deliveries_pending_id")
    op.execute("DROP TABLE bridge.repair_forwards")
    op.execute("DROP TABLE bridge.inbound_rows")
    op.execute("DROP TABLE bridge.inbound_files")
