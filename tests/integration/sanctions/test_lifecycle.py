"""A case's life through the APIs and topics: suspended while an objection is verified, resumed when it is
rejected, lifted on removal, revocation, expiry or a better grade — every implementing department told."""

from __future__ import annotations

from datetime import datetime

import httpx
from aiokafka import AIOKafkaProducer

from deploy.stack import Stack
from services.common.clock import SHANGHAI, FixedClock
from tests import factories
from tests.helpers import find_on_topic, header
from tests.integration.sanctions.support import (
    EVERY_LISTING_DEPARTMENT,
    case_id_of,
    cases_of,
    feedback,
    grade_changed,
    measure_ids,
    objection_filed,
    publish,
    removal,
    repair_decision,
    report,
    restrictions,
    revocation,
    sanction_event,
    serious_listing,
    verification,
    wait_case,
)


def topic(stack: Stack, name: str) -> str:
    return f"{stack.config.topic_prefix}{name}"


async def test_objection_suspends_the_case_and_its_rejection_resumes_it(
    ingest: httpx.AsyncClient,
    sanctions: httpx.AsyncClient,
    tokens: dict[str, str],
    stack: Stack,
    producer: AIOKafkaProducer,
) -> None:
    code = factories.uscc()
    listing = serious_listing(code)
    await report(ingest, tokens, listing)
    case = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the listing's case")

    filed = objection_filed(listing, filed_at="2026-11-18T09:30:00+08:00")
    objection_id = filed.data["objection_id"]
    await publish(producer, topic(stack, "outcomes.objections"), filed)
    suspended = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "suspended", "the suspension")
    assert (suspended["state_since"], suspended["objection_ids"]) == ("2026-11-18", [objection_id])

    answer = await restrictions(sanctions, tokens, code, "government_procurement")
    assert (answer["restricted"], answer["suspended"], answer["measures"]) == (False, True, [])
    assert answer["suspended_cases"][0]["case_id"] == case["case_id"]
    assert answer["suspended_cases"][0]["objection_ids"] == [objection_id]
    before = await restrictions(sanctions, tokens, code, "government_procurement", on="2026-11-17")
    assert (before["restricted"], before["suspended"]) == (True, False)

    await report(ingest, tokens, verification(listing, objection_id=objection_id, outcome="不属实", on="2026-11-20"))
    resumed = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the resumption")
    assert resumed["state_since"] == "2026-11-20"
    assert (await restrictions(sanctions, tokens, code, "government_procurement"))["restricted"] is True

    outcomes = topic(stack, "outcomes.sanctions")
    told = await sanction_event(stack.bootstrap, outcomes, case["case_id"], "suspended")
    assert (told["departments"], told["since"]) == (EVERY_LISTING_DEPARTMENT, "2026-11-18")
    told = await sanction_event(stack.bootstrap, outcomes, case["case_id"], "resumed")
    assert (told["departments"], told["state"]) == (EVERY_LISTING_DEPARTMENT, "open")


async def test_upheld_objection_keeps_the_case_suspended_until_the_revocation_lifts_it(
    ingest: httpx.AsyncClient,
    sanctions: httpx.AsyncClient,
    tokens: dict[str, str],
    stack: Stack,
    producer: AIOKafkaProducer,
) -> None:
    code = factories.uscc()
    listing = serious_listing(code)
    await report(ingest, tokens, listing)
    await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the listing's case")
    filed = objection_filed(listing, filed_at="2026-11-16T14:00:00+08:00")
    objection_id = filed.data["objection_id"]
    await publish(producer, topic(stack, "outcomes.objections"), filed)
    await wait_case(sanctions, tokens, code, lambda c: c["state"] == "suspended", "the suspension")

    await report(ingest, tokens, verification(listing, objection_id=objection_id, outcome="属实", on="2026-11-19"))
    await report(ingest, tokens, factories.penalty())  # something else flows meanwhile
    await wait_case(
        sanctions, tokens, code, lambda c: "待信息提供部门更正或撤销" in (c["reason"] or ""), "the upheld answer"
    )

    # 住建局 had already acted on it: a wrongful sanction obliges it to restore the subject's reputation.
    await report(
        ingest,
        tokens,
        feedback(listing["subject"], department="HOUSING", case_id=case_id_of(listing), measure_id="M-GF33-ADM-09"),
    )
    await wait_case(
        sanctions,
        tokens,
        code,
        lambda c: any(i["feedback"] for i in c["instructions"] if i["department"] == "HOUSING"),
        "HOUSING's feedback",
    )
    await report(ingest, tokens, revocation(listing, on="2026-11-20", objection_id=objection_id))
    lifted = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "lifted", "the lifting")
    assert (lifted["reason"], lifted["state_since"], lifted["wrongful"]) == ("撤销记录", "2026-11-20", True)
    assert lifted["restore_reputation"] == ["HOUSING"]
    assert (await restrictions(sanctions, tokens, code, "public_tender"))["restricted"] is False

    told = await sanction_event(stack.bootstrap, topic(stack, "outcomes.sanctions"), lifted["case_id"], "lifted")
    assert (told["departments"], told["reason"], told["wrongful"]) == (EVERY_LISTING_DEPARTMENT, "撤销记录", True)
    assert told["restore_reputation"] == ["HOUSING"]


async def test_removal_from_the_list_lifts_the_case_and_every_department_is_told(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str], stack: Stack
) -> None:
    code = factories.uscc()
    listing = serious_listing(code)
    await report(ingest, tokens, listing)
    case = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the listing's case")

    await report(ingest, tokens, removal(listing, on="2026-11-19"))
    lifted = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "lifted", "the lifting")
    assert (lifted["reason"], lifted["state_since"], lifted["wrongful"]) == ("移出：信用修复", "2026-11-19", False)
    assert (await restrictions(sanctions, tokens, code, "public_tender"))["restricted"] is False
    assert (await restrictions(sanctions, tokens, code, "public_tender", on="2026-11-18"))["restricted"] is True

    told = await sanction_event(stack.bootstrap, topic(stack, "outcomes.sanctions"), case["case_id"], "lifted")
    assert (told["departments"], told["reason"], told["since"]) == (
        EVERY_LISTING_DEPARTMENT,
        "移出：信用修复",
        "2026-11-19",
    )


async def test_case_is_lifted_when_its_listing_period_ends(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str], at: FixedClock
) -> None:
    code = factories.uscc()
    await report(ingest, tokens, serious_listing(code, period_end="2026-11-20"))
    await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the listing's case")

    at.set(datetime(2026, 11, 21, 0, 5, tzinfo=SHANGHAI))  # the ticker notices the day has changed
    lifted = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "lifted", "the expiry")
    assert (lifted["reason"], lifted["state_since"]) == ("期满", "2026-11-21")


async def test_grade_opens_the_measures_its_rule_set_names_and_a_better_grade_lifts_them(
    sanctions: httpx.AsyncClient, tokens: dict[str, str], stack: Stack, producer: AIOKafkaProducer
) -> None:
    code = factories.uscc()
    grades = topic(stack, "outcomes.grades")
    # chongqing-amr names no consequence in the measure list: its C grade opens no case.
    await publish(
        producer, grades, grade_changed(code, rule_set="chongqing-amr", old="B", new="C", effective="2026-11-09")
    )
    await publish(
        producer, grades, grade_changed(code, rule_set="benxi-2017", old="B", new="C", effective="2026-11-10")
    )
    case = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the C-grade case", kinds=None)
    assert case["trigger"]["kind"] == "grade:benxi-2017:C"
    assert len(await cases_of(sanctions, tokens, code, kinds=None)) == 1
    tender = await restrictions(sanctions, tokens, code, "public_tender")
    assert tender["restricted"] is True
    assert measure_ids(tender) == {"M-BX17-GRD-01"}

    await publish(
        producer, grades, grade_changed(code, rule_set="benxi-2017", old="C", new="A", effective="2026-11-15")
    )
    lifted = await wait_case(
        sanctions,
        tokens,
        code,
        lambda c: c["case_id"] == case["case_id"] and c["state"] == "lifted",
        "the lift",
        kinds=None,
    )
    assert (lifted["reason"], lifted["state_since"]) == ("等级调整为 A", "2026-11-15")
    tender = await restrictions(sanctions, tokens, code, "public_tender")
    assert tender["restricted"] is False
    assert "R-BX17-GRD-02" in measure_ids(tender, "rewards")


async def test_objection_event_not_in_the_agreed_shape_is_dead_lettered(
    stack: Stack, producer: AIOKafkaProducer, sanctions: httpx.AsyncClient
) -> None:
    code = factories.uscc()
    broken = objection_filed(serious_listing(code), filed_at="2026-11-18T09:30:00+08:00")
    del broken.data["record_id"]
    await publish(producer, topic(stack, "outcomes.objections"), broken)

    parked = await find_on_topic(
        stack.bootstrap, topic(stack, "outcomes.objections.dlq"), lambda m: header(m, "ce_id") == broken.id
    )
    assert "agreed shape" in (header(parked, "x-dlq-reason") or "")


async def test_approved_credit_repair_of_the_listing_lifts_its_case_and_every_restriction(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str], stack: Stack
) -> None:
    code = factories.uscc()
    listing = serious_listing(code)
    await report(ingest, tokens, listing)
    case = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the listing's case")
    assert (await restrictions(sanctions, tokens, code, "public_tender"))["restricted"] is True

    await report(ingest, tokens, repair_decision(listing, "REP-20261119-0A1B2C3D", "受理", on="2026-11-18"))
    await report(ingest, tokens, repair_decision(listing, "REP-20261119-0A1B2C3D", "准予修复", on="2026-11-19"))

    lifted = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "lifted", "the lifting by repair")
    assert (lifted["reason"], lifted["state_since"], lifted["wrongful"]) == ("信用修复", "2026-11-19", False)
    assert (await restrictions(sanctions, tokens, code, "public_tender"))["restricted"] is False
    assert (await restrictions(sanctions, tokens, code, "public_tender", on="2026-11-18"))["restricted"] is True
    told = await sanction_event(stack.bootstrap, topic(stack, "outcomes.sanctions"), case["case_id"], "lifted")
    assert (told["departments"], told["reason"]) == (EVERY_LISTING_DEPARTMENT, "信用修复")
