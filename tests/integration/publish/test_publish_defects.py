"""Issue 15, publish defects, through the public API and the portal: an act's maximum period (item 6), the
3-working-day withdrawal clock and the withdrawn record's page (item 8), 不可修复 penalties (item 12), a
person of unknown age (item 13), and one normalisation of the subject code a filer types."""

from __future__ import annotations

import random
from typing import Any

import httpx
import orjson
from sqlalchemy import text

from services.common.identifiers import citizen_id_check_character
from services.publish.handlers import Publisher
from tests import factories
from tests.helpers import eventually, record_event
from tests.integration.publish.support import amendment, bearer, context, public_id, report, shown, wait_shown

GENERAL_FINE = 20.0  # 一般 for an organisation under order 36: published for 12 months, repairable after 3


async def _gone(publish: httpx.AsyncClient, record_id: str) -> httpx.Response | None:
    response = await publish.get(f"/v1/disclosures/{record_id}")
    return response if response.status_code == 410 else None


# --- item 6 ------------------------------------------------------------------------------------------------


async def test_an_administrative_act_valid_until_2031_is_published_only_to_the_rule_sets_maximum(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    act = factories.fresh(factories.examples("administrative_action")[0])
    act["subject"]["code"] = factories.uscc()
    act["decision_date"] = act["data"]["decision_date"] = "2026-11-02"
    act["data"]["valid_until"] = "2031-12-31"
    await report(ingest, tokens, act)

    disclosure = await wait_shown(publish, public_id(act), "the 行政强制 on the portal")

    assert disclosure["publicity_until"] == "2029-11-02"  # 36 months, not its valid_until 2031-12-31
    assert disclosure["data"]["valid_until"] == "2031-12-31"  # the act's own term is still shown as decided


# --- item 8 ------------------------------------------------------------------------------------------------


def _revocation(record: dict[str, Any], decided: str) -> dict[str, Any]:
    return amendment(
        record,
        "record_revocation",
        decided,
        reason_kind="行政复议",
        reason="复议机关认定事实不清，撤销原处罚决定。",
        document_no="示府复〔2026〕33号",
    )


async def test_a_revoked_penalty_is_withdrawn_within_3_working_days_and_a_late_revocation_is_the_departments(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    late = factories.penalty(decision_date="2026-11-02", fine=GENERAL_FINE, department="HOUSING")
    on_time = factories.penalty(decision_date="2026-11-02", fine=GENERAL_FINE, department="HOUSING")
    for record in (late, on_time):
        await report(ingest, tokens, record, "HOUSING")
        await wait_shown(publish, public_id(record, "HOUSING"))
    # Revoked on Friday 2026-11-13 → due Wednesday 2026-11-18; reported on 2026-11-20: too late to meet it.
    await report(ingest, tokens, _revocation(late, "2026-11-13"), "HOUSING")
    # Revoked on 2026-11-19 → due 2026-11-24; reported and withdrawn on 2026-11-20.
    await report(ingest, tokens, _revocation(on_time, "2026-11-19"), "HOUSING")
    for record in (late, on_time):
        await eventually(lambda r=record: _gone(publish, public_id(r, "HOUSING")), what="the revoked penalty withdrawn")

    response = await publish.get("/v1/deadlines", headers=bearer(tokens, "HOUSING"))
    assert response.status_code == 200, response.text
    clock = response.json()["withdrawals"]
    assert clock["working_days"] == 3
    entries = {e["record_id"]: e for e in clock["records"]}
    missed, met = entries[public_id(late, "HOUSING")], entries[public_id(on_time, "HOUSING")]
    assert (missed["state"], missed["due"], missed["responsible"]) == ("late", "2026-11-18", "department")
    assert (met["state"], met["due"], met["responsible"]) == ("met", "2026-11-24", None)
    (housing,) = clock["summary"]
    assert housing["late_department"] >= 1
    assert housing["met"] >= 1

    card = await publish.get(
        "/v1/scorecard", params={"month": "2026-11", "department": "HOUSING"}, headers=bearer(tokens, "COUNTY")
    )
    assert card.status_code == 200, card.text
    (row,) = card.json()["departments"]
    assert row["withdrawals"]["late_department"] >= 1
    assert row["withdrawals"]["met"] >= 1


async def test_a_revoked_penalty_says_it_was_revoked_and_why_without_its_content(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty(fine=GENERAL_FINE, name="重庆撤销测试商贸有限公司")
    await report(ingest, tokens, record)
    await wait_shown(publish, public_id(record))
    await report(ingest, tokens, _revocation(record, "2026-11-19"))

    response = await eventually(lambda: _gone(publish, public_id(record)), what="the revoked penalty withdrawn")

    body = response.json()
    assert body["errors"][0]["code"] == "withdrawn"
    notice = body["record"]
    assert (notice["record_id"], notice["status"], notice["withdrawn"]) == (public_id(record), "已撤销", True)
    assert notice["withdrawal"]["reason"] == "复议机关认定事实不清，撤销原处罚决定。"
    assert notice["withdrawal"]["document_no"] == "示府复〔2026〕33号"
    text = orjson.dumps(body).decode()
    for withdrawn in (record["data"]["CF_WSH"], record["data"]["CF_SY"], record["subject"]["name"]):
        assert withdrawn not in text
    page = await publish.get(f"/records/{public_id(record)}")
    assert page.status_code == 410
    assert "已撤销" in page.text
    assert "复议机关认定事实不清" in page.text
    assert record["subject"]["name"] not in page.text
    assert record["data"]["CF_SY"] not in page.text


async def test_a_corrected_penalty_shows_it_was_corrected_and_why(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty(fine=GENERAL_FINE)
    await report(ingest, tokens, record)
    await wait_shown(publish, public_id(record))
    corrected = record["data"] | {"CF_NR": "罚款十五万元", "CF_NR_FK": 15.0}
    await report(
        ingest,
        tokens,
        amendment(
            record,
            "record_correction",
            "2026-11-19",
            reason_kind="行政复议",
            reason="复议机关变更罚款数额。",
            document_no="示府复〔2026〕34号",
            changed_fields=["CF_NR", "CF_NR_FK"],
            corrected_data=corrected,
        ),
    )

    async def with_reason() -> dict[str, Any] | None:
        now = await shown(publish, public_id(record))
        return now if now and now.get("amendment") else None

    disclosure = await eventually(with_reason, what="the corrected penalty with its reason")
    assert disclosure["amendment"]["status"] == "已更正"
    assert disclosure["amendment"]["reason"] == "复议机关变更罚款数额。"
    page = await publish.get(f"/records/{public_id(record)}")
    assert "复议机关变更罚款数额" in page.text


# --- item 12 -----------------------------------------------------------------------------------------------

BASIS = "发改办财金〔2019〕527号：涉及特定严重失信行为"


async def test_a_penalty_marked_non_repairable_refuses_repair_with_its_basis(publish: httpx.AsyncClient) -> None:
    # Catalogue v2 (non_repairable) is helper h1's; until it is merged ingest refuses the field, so the record
    # enters through the publish consumer's own handler — the path every record takes after ingest.
    record = factories.penalty(decision_date="2026-11-02", fine=GENERAL_FINE)
    record["version"] = 2
    record["data"] |= {"non_repairable": True, "non_repairable_basis": BASIS}
    ctx = context(publish)
    async with ctx.engine.begin() as conn:
        await Publisher(ctx).handle(conn, record_event(record, random.randint(1, 10**9)))

    disclosure = await wait_shown(publish, public_id(record))
    assert disclosure["repair_from"] is None
    assert disclosure["non_repairable_basis"] == BASIS
    response = await publish.post(
        "/v1/repairs",
        json={
            "record_id": public_id(record),
            "subject_code": record["subject"]["code"],
            "commitment": "本单位承诺依法诚信经营，今后不再发生同类违法行为。",
            "fulfilment": "罚款已于2026年11月10日缴清（缴款书号 5001012026111000123）。",
            "contact": "023-00000000",
        },
    )
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == "not_repairable"  # not "too_early" (an unmarked 一般 penalty: from 2027-02-03)
    assert BASIS in error["message"]
    page = await publish.get(f"/records/{public_id(record)}")
    assert page.status_code == 200
    assert "/repairs/new?record=" not in page.text  # no 申请信用修复 button
    assert "依法不可修复" in page.text


# --- item 13 -----------------------------------------------------------------------------------------------


async def test_a_passport_holder_of_unknown_age_is_published_without_the_name(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    passport, name = f"E{random.randint(10**7, 10**8 - 1)}", "欧阳明远"
    record = factories.penalty(kind="natural_person", code=passport, name=name, fine=2.0)
    record["subject"]["id_type"] = "护照"
    record["data"] |= {"CF_XDR_ZJLX": "护照", "CF_SY": f"当事人{name}于2026年10月无照经营。"}
    await report(ingest, tokens, record)

    disclosure = await wait_shown(publish, public_id(record), "the passport holder's penalty")

    assert disclosure["subject"]["name"] == "***"
    assert disclosure["data"]["CF_XDR_MC"] == "***"
    assert disclosure["data"]["CF_SY"] == "当事人***于2026年10月无照经营。"
    assert passport not in disclosure["subject"]["code"]
    assert "欧阳" not in orjson.dumps(disclosure).decode()
    page = await publish.get(f"/records/{public_id(record)}")
    assert "欧阳" not in page.text


async def test_a_minor_known_only_by_the_birth_date_is_not_published(publish: httpx.AsyncClient) -> None:
    # subject.birth_date is h1's envelope change; until it is merged ingest refuses it, so the record enters
    # through the publish consumer's own handler (committed when handle returns).
    passport = f"E{random.randint(10**7, 10**8 - 1)}"
    minor = factories.penalty(kind="natural_person", code=passport, name="李小明", fine=2.0)
    minor["subject"] |= {"id_type": "护照", "birth_date": "2012-03-04"}
    minor["data"]["CF_XDR_ZJLX"] = "护照"
    ctx = context(publish)
    async with ctx.engine.begin() as conn:
        await Publisher(ctx).handle(conn, record_event(minor, random.randint(1, 10**9)))
    async with ctx.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT state, reason FROM publish.disclosures WHERE public_id = :p"), {"p": public_id(minor)}
            )
        ).one()

    assert row.state == "withheld"
    assert "minor" in row.reason
    assert await shown(publish, public_id(minor)) is None
    found = await publish.get("/v1/disclosures", params={"q": passport})
    assert found.json()["items"] == []


# --- the subject code a filer types ------------------------------------------------------------------------


def _citizen_id_ending_in_x() -> str:
    while True:
        body = "110105198001" + f"{random.randint(1, 28):02d}" + f"{random.randint(0, 999):03d}"
        if citizen_id_check_character(body) == "X":
            return body + "X"


async def test_an_objection_with_a_lower_case_x_in_the_subject_code_is_filed_and_found(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = _citizen_id_ending_in_x()
    record = factories.penalty(kind="natural_person", code=code, name="张三", fine=2.0)
    await report(ingest, tokens, record)
    await wait_shown(publish, public_id(record))
    typed = code.lower()

    filed = await publish.post(
        "/v1/objections",
        json={
            "record_id": public_id(record),
            "subject_code": typed,
            "reason": "罚款已缴清。",
            "contact": "13800000000",
        },
    )
    assert filed.status_code == 201, filed.text
    objection = filed.json()["objection"]
    assert objection["subject_code"] == code

    found = await publish.get(f"/v1/objections/{objection['objection_id']}", params={"code": typed})
    assert found.status_code == 200, found.text
    assert found.json()["objection"]["objection_id"] == objection["objection_id"]
