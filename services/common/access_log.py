"""The access log: every read of non-public data (grades, restrictions, cases, shared fields) becomes an
event on the audit topic — who, role, what, about whom, when, why (DOMAIN §8, `001 L662`).

Written through the reading service's outbox in its own short transaction, so the log survives a broker
outage; a read that cannot be logged is refused (the caller gets the database's 503).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.auth import Principal
from services.common.outcomes import emit, outcome_event


async def log_access(
    engine: AsyncEngine,
    *,
    schema: str,
    topic: str,
    service: str,
    principal: Principal,
    what: str,
    subject: str,
    purpose: str | None,
    at: datetime,
    answer: str | None = None,
) -> None:
    event = outcome_event(
        service=service,
        kind="audit.access",
        subject=subject,
        event_id=f"access:{service}:{uuid.uuid4().hex}",
        time=at,
        data={
            "who": principal.credential_id,
            "department": principal.department,
            "role": principal.role.value,
            "name": principal.name,
            "what": what,
            "subject": subject,
            "purpose": purpose,
            "answer": answer,
            "at": at.isoformat(),
        },
    )
    async with engine.begin() as conn:
        await emit(conn, schema=schema, topic=topic, events=[event])
