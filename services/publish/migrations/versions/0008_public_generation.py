"""The generation of what the public reads show (issue 19, the public read cache): one row, bumped in the
transaction of every change to ``publish.disclosures`` by a trigger on the table itself, so no writer (the
consumer, the ticker, an objection filed on the portal, a repair decision, a hand-written statement) can
change a public row without it. A cached public answer is served only while the generation it was computed
at is still the current one (``services/publish/public_cache.py``).

Why a deferred constraint trigger (row-level, runs at COMMIT) rather than a plain statement trigger: the bump
takes the counter row's lock until COMMIT. Taken at the first write, it would serialise every writing
transaction from that write to its end, and two writers that lock subjects in between (the consumer locks
the subjects of a poll run by run; the portal's objection locks its subject) could deadlock on it. Taken at
COMMIT, after every other lock of the transaction, it is held for microseconds and waits for nobody. It
fires per changed row, but only the first call of a transaction updates the row (``bumped_by``). TRUNCATE has
no row triggers: a statement trigger covers it. Both are ``ENABLE ALWAYS`` (also under
``session_replication_role = replica``).

Revision ID: publish_0008_public_generation
"""

from alembic import context, op

revision = "publish_0008_public_generation"
down_revision = "publish_0007_derivations"
branch_labels = None
depends_on = None


def _schema() -> str:
    """``publish``, or the scratch schema `exchange audit replay` rebuilds the service in."""
    return str(context.config.attributes.get("schema", "publish"))


def upgrade() -> None:
    op.execute(
        f"CREATE TABLE {_schema()}.public_generation ("
        " only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),"
        # A new table (a schema rebuilt under a running service) starts a new epoch: the counter alone would
        # start again at 0 and meet answers cached at the old table's 0.
        " epoch uuid NOT NULL DEFAULT gen_random_uuid(),"
        " n bigint NOT NULL DEFAULT 0,"
        " bumped_by xid8)"
    )
    op.execute(f"INSERT INTO {_schema()}.public_generation DEFAULT VALUES")
    op.execute(
        f"CREATE FUNCTION {_schema()}.bump_public_generation() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        f"UPDATE {_schema()}.public_generation SET n = n + 1, bumped_by = pg_current_xact_id() "
        "WHERE bumped_by IS DISTINCT FROM pg_current_xact_id(); "
        "RETURN NULL; "
        "END $$"
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER disclosures_public_generation "
        f"AFTER INSERT OR UPDATE OR DELETE ON {_schema()}.disclosures DEFERRABLE INITIALLY DEFERRED "
        f"FOR EACH ROW EXECUTE FUNCTION {_schema()}.bump_public_generation()"
    )
    op.execute(
        f"CREATE TRIGGER disclosures_public_generation_truncate AFTER TRUNCATE ON {_schema()}.disclosures "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_schema()}.bump_public_generation()"
    )
    op.execute(f"ALTER TABLE {_schema()}.disclosures ENABLE ALWAYS TRIGGER disclosures_public_generation")
    op.execute(f"ALTER TABLE {_schema()}.disclosures ENABLE ALWAYS TRIGGER disclosures_public_generation_truncate")


def downgrade() -> None:
    op.execute(f"DROP TRIGGER IF EXISTS disclosures_public_generation_truncate ON {_schema()}.disclosures")
    op.execute(f"DROP TRIGGER IF EXISTS disclosures_public_generation ON {_schema()}.disclosures")
    op.execute(f"DROP FUNCTION IF EXISTS {_schema()}.bump_public_generation()")
    op.execute(f"DROP TABLE IF EXISTS {_schema()}.public_generation")
