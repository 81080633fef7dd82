"""A publisher derives a subject's new record alone on what it kept of the subject's file (issue 18: work per
event independent of the history) only while nobody else has derived the subject since."""

from __future__ import annotations

import random

import httpx
import orjson
from sqlalchemy import text

from services.common.clock import shanghai_date
from services.common.records import AcceptedRecord
from services.publish.handlers import Publisher
from services.publish.rules.derive import derive_disclosures
from tests import factories
from tests.helpers import record_event
from tests.integration.publish.support import context
from tests.integration.publish.test_lists import department_of, list_record


async def test_a_kept_derivation_gives_way_to_another_publishers_and_equals_the_whole_file(
    publish: httpx.AsyncClient,
) -> None:
    ctx = context(publish)
    mine, replica = Publisher(ctx), Publisher(ctx)
    code, name = factories.uscc(), "示范县保留推导有限公司"
    subject = {"kind": "legal_person", "code": code, "name": name}
    first = factories.penalty(code=code, name=name, decision_date="2026-11-02", fine=20.0)
    rests_on = factories.penalty(code=code, name=name, decision_date="2026-11-03", fine=20.0)
    listing = list_record(
        "serious_untrustworthy_listing",
        0,
        "2026-11-04",
        subject=subject,
        stage="认定",
        underlying_document_no=rests_on["data"]["CF_WSH"],
    )
    later = factories.penalty(code=code, name=name, decision_date="2026-11-05", fine=20.0)
    events = [
        (mine, record_event(first, random.randint(1, 10**9))),
        # another replica derives the subject: the 认定 makes the penalty it rests on 严重 …
        (replica, record_event(listing, random.randint(1, 10**9), department_of(listing))),
        # … which the first publisher must not miss by deriving that penalty on the view it kept
        (mine, record_event(rests_on, random.randint(1, 10**9))),
        (mine, record_event(later, random.randint(1, 10**9))),  # derived alone on the view kept just before
    ]
    for publisher, event in events:
        async with ctx.engine.begin() as conn:
            await publisher.handle(conn, event)

    async with ctx.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT public_id, content FROM publish.disclosures WHERE subject_code = :c"), {"c": code}
        )
        stored = {r.public_id: orjson.loads(r.content) for r in rows}
    file = [AcceptedRecord.from_event(event) for _, event in events]
    whole = {d.public_id: d.content for d in derive_disclosures(file, ctx.rules, shanghai_date(ctx.now()))}
    assert {pid: {k: v for k, v in c.items() if k != "published_at"} for pid, c in stored.items()} == whole
    assert whole[f"AMR.{rests_on['id']}"]["severity"] == "严重"
