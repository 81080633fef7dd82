"""The head of each webhook queue (one row per (subscription, subject) with something pending), so a claim
visits only queues whose head is due instead of walking the pending backlog (issue 20).

Revision ID: bridge_0004
"""

from alembic import op

revision = "bridge_0004"
down_revision = "bridge_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # due_at: when the head may be claimed: its next attempt, or the end of its lease while leased
    # (a lease that runs out makes the head due again), 'infinity' while its subscription is paused.
    op.execute(
        """
        CREATE TABLE bridge.delivery_heads (
            subscription_id text NOT NULL REFERENCES bridge.subscriptions (id),
            subject text NOT NULL,
            delivery_id bigint NOT NULL REFERENCES bridge.deliveries (id),
            due_at timestamptz NOT NULL,
            lease_until timestamptz,
            PRIMARY KEY (subscription_id, subject)
        )
        """
    )
    op.execute("CREATE INDEX delivery_heads_due ON bridge.delivery_heads (due_at)")
    op.execute("CREATE UNIQUE INDEX delivery_heads_delivery ON bridge.delivery_heads (delivery_id)")
    op.execute(
        """
        INSERT INTO bridge.delivery_heads (subscription_id, subject, delivery_id, due_at, lease_until)
        SELECT DISTINCT ON (d.subscription_id, d.subject) d.subscription_id, d.subject, d.id,
               CASE WHEN s.state = 'active' THEN GREATEST(d.next_attempt_at, COALESCE(d.lease_until, '-infinity'))
                    ELSE 'infinity' END,
               d.lease_until
        FROM bridge.deliveries d JOIN bridge.subscriptions s ON s.id = d.subscription_id
        WHERE d.state = 'pending'
        ORDER BY d.subscription_id, d.subject, d.id
        """
    )
    # The claim no longer walks pending deliveries in id order.
    op.execute("DROP INDEX bridge.deliveries_pending_id")


def downgrade() -> None:
    op.execute("CREATE INDEX deliveries_pending_id ON bridge.deliveries (id) WHERE state = 'pending'")
    op.execute("DROP TABLE bridge.delivery_heads")
