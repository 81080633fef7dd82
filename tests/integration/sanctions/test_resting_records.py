"""An objection suspends every case that rests on the disputed record: a grade's case through the records
its explanation names, a 认定 through its 拟列入告知 — whose objection period also holds the measures
back until it has passed (000 L113, 001 L654). Everything through the public APIs and topics."""

from __future__ import annotations

from datetime import datetime

import httpx
from aiokafka import AIOKafkaProducer

from deploy.stack import Stack
from services.common.clock import SHANGHAI, FixedClock
from tests import factories
from tests.integration.sanctions.support import (
    grade_changed,
    notice,
    objection_filed,
    publish,
    report,
    restrictions,
    sanction_event,
    serious_listing,
    verification,
    wait_case,
)

GRADE = "grade:benxi-2017:C"


def topic(stack: Stack, name: str) -> str:
    return f"{stack.config.topic_prefix}{name}"


async def test_objection_on_the_record_behind_a_grade_suspends_the_grade_case(
    ingest: httpx.AsyncClient,
    sanctions: httpx.AsyncClient,
    tokens: dict[str, str],
    stack: Stack,
    producer: AIOKafkaProducer,
) -> None:
    code = factories.uscc()
    fined = factories.penalty(code=code, decision_date="2026-11-09")
    await report(ingest, tokens, fined)
    change = grade_changed(code, rule_set="benxi-2017", old="B", new="C", effective="2026-11-10", resting_on=[fined])
    await publish(producer, topic(stack, "outcomes.grades"), change)
    opened = await wait_case(sanctions, tokens, code, lambda c: c["trigger"]["kind"] == GRADE, "the C case", kinds=None)
    assert opened["state"] == "open"

    filed = objection_filed(fined, filed_at="2026-11-12T09:00:00+08:00")
    await publish(producer, topic(stack, "outcomes.objections"), filed)
    suspended = await wait_case(
        sanctions, tokens, code, lambda c: c["state"] == "suspended", "the suspension", kinds=[GRADE]
    )
    assert (suspended["state_since"], suspended["objection_ids"]) == ("2026-11-12", [filed.data["objection_id"]])
    tender = await restrictions(sanctions, tokens, code, "public_tender")
    assert (tender["restricted"], tender["suspended"]) == (False, True)

    rejected = verification(fined, objection_id=filed.data["objection_id"], outcome="不属实", on="2026-11-16")
    await report(ingest, tokens, rejected)
    resumed = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the resumption", kinds=[GRADE])
    assert (resumed["state_since"], resumed["reason"]) == ("2026-11-16", "异议核实不属实，恢复执行")
    assert (await restrictions(sanctions, tokens, code, "public_tender"))["restricted"] is True


async def test_listing_is_suspended_until_the_notice_objection_deadline_has_passed(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str], stack: Stack, at: FixedClock
) -> None:
    code = factories.uscc()
    await report(ingest, tokens, notice(code, on="2026-11-02", deadline="2026-11-24"))
    await report(ingest, tokens, serious_listing(code, on="2026-11-10"))
    case = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "suspended", "the held-back case")
    assert case["state_since"] == "2026-11-10"
    assert "2026-11-24" in case["reason"]
    procurement = await restrictions(sanctions, tokens, code, "government_procurement")
    assert (procurement["restricted"], procurement["suspended"]) == (False, True)

    at.set(datetime(2026, 11, 25, 0, 5, tzinfo=SHANGHAI))  # the ticker notices the period has passed
    opened = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the end of the period")
    assert (opened["state_since"], opened["reason"]) == ("2026-11-25", "拟列入告知的异议期已届满，开始执行")
    told = await sanction_event(stack.bootstrap, topic(stack, "outcomes.sanctions"), case["case_id"], "resumed")
    assert told["since"] == "2026-11-25"
    assert (await restrictions(sanctions, tokens, code, "government_procurement"))["restricted"] is True


async def test_pending_objection_on_the_notice_suspends_the_listing_until_it_is_answered(
    ingest: httpx.AsyncClient,
    sanctions: httpx.AsyncClient,
    tokens: dict[str, str],
    stack: Stack,
    producer: AIOKafkaProducer,
) -> None:
    code = factories.uscc()
    noticed = notice(code, on="2026-11-02", deadline="2026-11-09")
    await report(ingest, tokens, noticed)
    filed = objection_filed(noticed, filed_at="2026-11-05T09:00:00+08:00")
    await publish(producer, topic(stack, "outcomes.objections"), filed)
    await report(ingest, tokens, serious_listing(code, on="2026-11-12"))  # decided with the objection unanswered
    case = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "suspended", "the held-back case")
    assert (case["state_since"], case["objection_ids"]) == ("2026-11-12", [filed.data["objection_id"]])

    answer = verification(noticed, objection_id=filed.data["objection_id"], outcome="不属实", on="2026-11-18")
    await report(ingest, tokens, answer)
    opened = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the answer")
    assert opened["state_since"] == "2026-11-18"
