"""The bridge service: inbox/outbox, the unified outcome feed, webhook subscriptions with their deliveries
and attempts, and the province deliveries (issue 20).

Revision ID: bridge_0001
"""

from alembic import op

from services.common.tables import create_inbox, create_outbox

revision = "bridge_0001"
down_revision = None
branch_labels = None
depends_on = None
SCHEMA = "bridge"


def upgrade() -> None:
    create_inbox(SCHEMA)
    create_outbox(SCHEMA)
    # Served in (txid, position) order below the oldest running transaction, as publish.feed.
    op.execute(
        """
        CREATE TABLE bridge.feed (
            position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            event_id text NOT NULL UNIQUE,
            type text NOT NULL,
            family text NOT NULL,
            subject text NOT NULL,
            departments text[] NOT NULL,
            time timestamptz NOT NULL,
            source text NOT NULL,
            data jsonb NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX feed_order ON bridge.feed (txid, position)")
    op.execute(
        """
        CREATE TABLE bridge.subscriptions (
            id text PRIMARY KEY,
            credential_id text NOT NULL,
            role text NOT NULL,
            department text,
            url text NOT NULL,
            types text[] NOT NULL,
            secret text NOT NULL,
            state text NOT NULL DEFAULT 'active',
            paused_reason text,
            paused_at timestamptz,
            created_at timestamptz NOT NULL
        )
        """
    )
    op.execute(
        """
        CREATE TABLE bridge.deliveries (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            subscription_id text NOT NULL REFERENCES bridge.subscriptions (id),
            event_id text NOT NULL,
            subject text NOT NULL,
            state text NOT NULL DEFAULT 'pending',
            attempts integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL,
            next_attempt_at timestamptz NOT NULL,
            first_failed_at timestamptz,
            lease_until timestamptz,
            last_status integer,
            last_error text,
            delivered_at timestamptz,
            UNIQUE (subscription_id, event_id)
        )
        """
    )
    # The head of each (subscription, subject) queue: deliveries go out in order per subject.
    op.execute(
        "CREATE INDEX deliveries_pending ON bridge.deliveries (subscription_id, subject, id) WHERE state = 'pending'"
    )
    op.execute(
        """
        CREATE TABLE bridge.attempts (
            delivery_id bigint NOT NULL REFERENCES bridge.deliveries (id),
            n integer NOT NULL,
            at timestamptz NOT NULL,
            status integer,
            error text,
            duration_ms integer NOT NULL,
            PRIMARY KEY (delivery_id, n)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE bridge.alerts (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            subscription_id text NOT NULL REFERENCES bridge.subscriptions (id),
            at timestamptz NOT NULL,
            kind text NOT NULL,
            message text NOT NULL
        )
        """
    )
    op.execute(
        """
        CREATE TABLE bridge.province (
            event_id text PRIMARY KEY,
            action text NOT NULL,
            record_type text NOT NULL,
            department text NOT NULL,
            record_id text NOT NULL,
            subject text NOT NULL,
            event_date date NOT NULL,
            due_date date,
            payload jsonb NOT NULL,
            state text NOT NULL DEFAULT 'pending',
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL,
            lease_until timestamptz,
            last_error text,
            sent_at timestamptz,
            answered_at timestamptz,
            answer text,
            seq bigint GENERATED ALWAYS AS IDENTITY
        )
        """
    )
    op.execute("CREATE INDEX province_pending ON bridge.province (next_attempt_at) WHERE state = 'pending'")
    op.execute("CREATE INDEX province_day ON bridge.province (event_date)")


def downgrade() -> None:
    for table in ("province", "alerts", "attempts", "deliveries", "subscriptions", "feed", "outbox", "inbox"):
        op.drop_table(table, schema=SCHEMA)
