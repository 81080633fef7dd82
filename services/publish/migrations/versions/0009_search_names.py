"""Name search per subject, not per record (issue 19): ``publish.search_names`` holds each (subject code,
public name) that was ever published, with the name's search tokens, GIN-indexed. A name search finds the
matching names there and reads at most a page of each one's newest records through
``disclosures_subject_order``, instead of every record of every matching subject; a subject with hundreds of
records then costs a page, not hundreds of rows.

A superset is enough and is what is kept: a pair stays after its records are withdrawn (the search still
reads the records with ``state = 'published'``, so a stale pair only costs an index probe). Two triggers on
``publish.disclosures`` add a pair whenever a row becomes published or a published row's code or name
changes, so every writer (the consumer, the ticker, repairs, the audit replay's scratch schema, a
statement typed by hand) keeps it; the WHEN conditions are evaluated without calling the function, so an
upsert that changes neither costs nothing. ``ENABLE ALWAYS`` as the generation triggers. The index on the
subject's records gains ``subject_name`` (INCLUDE) so the per-name read and the count are index-only scans.

Revision ID: publish_0009_search_names
"""

from alembic import context, op

revision = "publish_0009_search_names"
down_revision = "publish_0008_public_generation"
branch_labels = None
depends_on = None


def _schema() -> str:
    """``publish``, or the scratch schema `exchange audit replay` rebuilds the service in."""
    return str(context.config.attributes.get("schema", "publish"))


def upgrade() -> None:
    op.execute(
        f"CREATE TABLE {_schema()}.search_names ("
        " subject_code text NOT NULL,"
        " subject_name text NOT NULL,"
        " search_tokens text[] NOT NULL,"  # the tokens of subject_name (rules/derive.py name_tokens)
        " PRIMARY KEY (subject_code, subject_name))"
    )
    op.execute(f"CREATE INDEX search_names_tokens ON {_schema()}.search_names USING gin (search_tokens)")
    op.execute(
        f"INSERT INTO {_schema()}.search_names (subject_code, subject_name, search_tokens) "
        "SELECT DISTINCT ON (subject_code, subject_name) subject_code, subject_name, search_tokens "
        f"FROM {_schema()}.disclosures WHERE state = 'published' ORDER BY subject_code, subject_name, updated_at DESC"
    )
    op.execute(
        f"CREATE FUNCTION {_schema()}.note_search_name() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        f"INSERT INTO {_schema()}.search_names (subject_code, subject_name, search_tokens) "
        "VALUES (NEW.subject_code, NEW.subject_name, NEW.search_tokens) "
        "ON CONFLICT (subject_code, subject_name) DO UPDATE SET search_tokens = EXCLUDED.search_tokens "
        "WHERE search_names.search_tokens IS DISTINCT FROM EXCLUDED.search_tokens; "
        "RETURN NULL; "
        "END $$"
    )
    op.execute(
        f"CREATE TRIGGER disclosures_search_names_insert AFTER INSERT ON {_schema()}.disclosures "
        f"FOR EACH ROW WHEN (NEW.state = 'published') EXECUTE FUNCTION {_schema()}.note_search_name()"
    )
    op.execute(
        f"CREATE TRIGGER disclosures_search_names_update AFTER UPDATE ON {_schema()}.disclosures "
        "FOR EACH ROW WHEN (NEW.state = 'published' AND (OLD.state, OLD.subject_code, OLD.subject_name, "
        "OLD.search_tokens) IS DISTINCT FROM (NEW.state, NEW.subject_code, NEW.subject_name, NEW.search_tokens)) "
        f"EXECUTE FUNCTION {_schema()}.note_search_name()"
    )
    op.execute(f"ALTER TABLE {_schema()}.disclosures ENABLE ALWAYS TRIGGER disclosures_search_names_insert")
    op.execute(f"ALTER TABLE {_schema()}.disclosures ENABLE ALWAYS TRIGGER disclosures_search_names_update")
    op.execute(f"DROP INDEX {_schema()}.disclosures_subject_order")
    op.execute(
        f"CREATE INDEX disclosures_subject_order ON {_schema()}.disclosures "
        "(subject_code, decision_date DESC, public_id DESC) INCLUDE (subject_name) WHERE state = 'published'"
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {_schema()}.disclosures_subject_order")
    op.execute(
        f"CREATE INDEX disclosures_subject_order ON {_schema()}.disclosures "
        "(subject_code, decision_date DESC, public_id DESC) WHERE state = 'published'"
    )
    op.execute(f"DROP TRIGGER IF EXISTS disclosures_search_names_update ON {_schema()}.disclosures")
    op.execute(f"DROP TRIGGER IF EXISTS disclosures_search_names_insert ON {_schema()}.disclosures")
    op.execute(f"DROP FUNCTION IF EXISTS {_schema()}.note_search_name()")
    op.execute(f"DROP TABLE IF EXISTS {_schema()}.search_names")
