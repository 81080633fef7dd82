"""Database engine creation and the one-line start-up check.

Engines are created by a service's lifespan or `main()`, never at import. Data-access code (`store.py`
of each service) adds and flushes inside a transaction its caller owns; nothing here commits.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from typing import Any

import orjson
from sqlalchemy import TextClause, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


@functools.lru_cache(maxsize=1024)
def sql(statement: str) -> TextClause:
    """`text(statement)`, built once per distinct statement. Consumers and the ingest writer run the same
    few statements thousands of times a second; a new TextClause each time re-parses the bind parameters
    and recomputes SQLAlchemy's cache key, which cost more CPU than executing the statement did."""
    return text(statement)


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL cannot be reached or refuses us; the message is one line for the operator."""


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    read_only: bool = False,
    application_name: str = "credit-exchange",
) -> AsyncEngine:
    """`read_only`: every session refuses writes (PostgreSQL's default_transaction_read_only), e.g. an
    auditor's replay that must not change production whatever its role may do. `application_name` names the
    pool in pg_stat_activity (a service's runtime gives its own name).

    No pre-ping: SQLAlchemy's ``pool_pre_ping`` sends a statement on every checkout, i.e. one more round trip
    per consumer poll and per request. A pooled connection is checked without one instead
    (:func:`_refuse_closed`): a server restart or ``pg_terminate_backend`` closes the socket, the driver sees
    it as soon as the event loop reads it, and such a connection is replaced at checkout. What that cannot see
    (a connection lost between checkout and a statement, a silent network drop) fails the statement as a
    disconnect: SQLAlchemy then invalidates the pool's older connections, the consumer retries its poll
    (`consumer._is_transient`), and ``pool_recycle`` bounds how old a connection gets."""
    settings = {"application_name": application_name, "timezone": "UTC"}
    if read_only:
        settings["default_transaction_read_only"] = "on"
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        # jsonb columns (records, receipts, outbox headers) are read on every event: orjson, not json.
        json_deserializer=orjson.loads,
        connect_args={"server_settings": settings},
    )
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed)
    return engine


def _refuse_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection whose socket the server closed is discarded at checkout and another one is taken
    (SQLAlchemy retries the checkout on DisconnectionError): no round trip, asyncpg's own state."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (postgresql+asyncpg://…) as a DSN for `asyncpg.connect` (hot paths that skip
    SQLAlchemy)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def describe(database_url: str) -> str:
    """The URL without its password, for messages and logs."""
    return make_url(database_url).render_as_string(hide_password=True)


async def check_database(engine: AsyncEngine, *, timeout: float = 5.0) -> None:
    """Raise DatabaseUnavailable with a one-line reason if a trivial query does not succeed."""
    url = describe(str(engine.url.render_as_string(hide_password=False)))
    try:
        async with asyncio.timeout(timeout):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except TimeoutError:
        raise DatabaseUnavailable(f"PostgreSQL at {url} did not answer within {timeout:.0f}s") from None
    except (OSError, socket.gaierror) as exc:
        raise DatabaseUnavailable(f"PostgreSQL at {url} is unreachable: {exc.strerror or exc}") from None
    except Exception as exc:  # asyncpg raises its own classes for auth and missing databases
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatabaseUnavailable(f"PostgreSQL at {url} refused the connection: {reason}") from None
