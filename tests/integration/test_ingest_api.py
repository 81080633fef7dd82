"""Ingest through its HTTP API, against the real PostgreSQL and Kafka of the test stack."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from deploy.stack import Stack
from services.common.clock import SHANGHAI, FixedClock
from services.common.identifiers import uscc_check_character
from services.ingest.receipts import record_hash, verify
from tests import factories
from tests.helpers import eventually, find_on_topic, header


def bearer(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['TOKEN_' + who]}"}


async def post(client: httpx.AsyncClient, tokens: dict[str, str], record: Any, who: str = "AMR") -> httpx.Response:
    return await client.post("/v1/records", json=record, headers=bearer(tokens, who))


def error_at(response: httpx.Response, path: str) -> dict[str, str]:
    errors = response.json()["errors"]
    matches = [e for e in errors if e["path"] == path]
    assert matches, f"no error at {path}; errors: {errors}"
    return matches[0]


# -- every record type --------------------------------------------------------------------------


def _reporter(record_type: str) -> str:
    from services.common.catalogue import load_catalogue

    catalogue = load_catalogue(factories.SCHEMAS)
    return sorted(catalogue.record_types[record_type].departments)[0]


@pytest.mark.parametrize(("name", "example"), factories.all_examples(), ids=[n for n, _ in factories.all_examples()])
async def test_every_catalogue_example_is_accepted_with_a_signed_receipt(
    ingest: httpx.AsyncClient, tokens: dict[str, str], name: str, example: dict[str, Any]
) -> None:
    department = _reporter(example["type"])
    record = factories.fresh(example, department)
    if example["type"] in ("record_correction", "record_revocation", "repair_decision"):
        target = factories.penalty(department=department) if department in ("AMR", "TAX", "HOUSING") else None
        assert target is not None, f"no penalty reporter for {department}"
        assert (await post(ingest, tokens, target, department)).status_code == 202
        record["data"]["target_record_id"] = target["id"]
        record["subject"] = target["subject"]
        if example["type"] == "record_correction":
            record["data"]["corrected_data"] = target["data"] | {"CF_NR": "更正后的处罚内容"}
    response = await post(ingest, tokens, record, department)
    assert response.status_code == 202, response.text
    receipt = response.json()["receipt"]
    assert receipt["record_id"] == record["id"]
    assert receipt["department"] == department
    assert receipt["hash"] == record_hash(department, record)


# -- validation ---------------------------------------------------------------------------------


async def test_missing_required_field_is_reported_at_its_pointer(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty()
    del record["data"]["CF_WSH"]
    response = await post(ingest, tokens, record)
    assert response.status_code == 422
    assert error_at(response, "/data/CF_WSH")["code"] == "required"


async def test_every_error_is_reported_not_just_the_first(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    record = factories.penalty()
    del record["data"]["CF_WSH"]
    del record["data"]["CF_SY"]
    record["data"]["CF_NR_FK"] = -1
    response = await post(ingest, tokens, record)
    assert response.status_code == 422
    paths = {e["path"] for e in response.json()["errors"]}
    assert {"/data/CF_WSH", "/data/CF_SY", "/data/CF_NR_FK"} <= paths


async def test_natural_person_penalty_needs_id_type_and_number(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty(kind="natural_person", name="王某某")
    del record["data"]["CF_XDR_ZJHM"]
    response = await post(ingest, tokens, record)
    assert response.status_code == 422
    assert error_at(response, "/data/CF_XDR_ZJHM")["code"] == "required"


async def test_fine_category_needs_the_fine_amount(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    record = factories.penalty(categories=("警告", "罚款"), fine=None)
    response = await post(ingest, tokens, record)
    assert response.status_code == 422
    assert error_at(response, "/data/CF_NR_FK")["code"] == "required"


async def test_negative_fine_is_refused(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    response = await post(ingest, tokens, factories.penalty(fine=-0.5))
    assert response.status_code == 422
    assert error_at(response, "/data/CF_NR_FK")["code"] == "minimum"


async def test_wrong_uscc_check_character_names_the_expected_one(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = factories.uscc()
    expected = code[-1]
    wrong = next(c for c in "0123456789ABC" if c != expected)
    record = factories.penalty(code=code[:-1] + wrong)
    response = await post(ingest, tokens, record)
    assert response.status_code == 422
    error = error_at(response, "/subject/code")
    assert error["code"] == "uscc_check_character"
    assert expected in error["message"]


async def test_wrong_citizen_id_check_character_is_refused(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    good = factories.citizen_id()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    record = factories.penalty(kind="natural_person", code=bad, name="王某某")
    response = await post(ingest, tokens, record)
    assert response.status_code == 422
    assert error_at(response, "/subject/code")["code"] == "citizen_id_check_character"


async def test_unknown_division_code_is_a_warning_on_the_receipt(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    body = "91" + "990101" + "MA2PBMCG0"  # 99 is no province
    record = factories.penalty(code=body + uscc_check_character(body))
    response = await post(ingest, tokens, record)
    assert response.status_code == 202, response.text
    warnings = response.json()["receipt"]["warnings"]
    assert any(w["code"] == "uscc_division_unknown" and w["path"] == "/subject/code" for w in warnings)


async def test_decision_date_in_the_future_is_refused(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    response = await post(ingest, tokens, factories.penalty(decision_date="2026-11-21"))  # clock: 2026-11-20
    assert response.status_code == 422
    assert error_at(response, "/decision_date")["code"] == "future_date"


async def test_decision_date_must_equal_the_records_own_date(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    record = factories.penalty()
    record["data"]["CF_JDRQ"] = "2026-11-01"
    response = await post(ingest, tokens, record)
    assert response.status_code == 422
    assert error_at(response, "/data/CF_JDRQ")["code"] == "decision_date_mismatch"


async def test_subject_must_agree_with_the_administrative_counterpart(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty()
    record["data"]["CF_XDR_MC"] = "另一家公司"
    response = await post(ingest, tokens, record)
    assert response.status_code == 422
    assert error_at(response, "/data/CF_XDR_MC")["code"] == "subject_mismatch"


async def test_licence_valid_to_before_valid_from_is_refused(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    record = factories.licensing(valid_from="2026-11-02", valid_to="2026-11-01")
    response = await post(ingest, tokens, record)
    assert response.status_code == 422
    assert error_at(response, "/data/XK_YXQZI")["code"] == "date_range_reversed"


async def test_unknown_property_is_refused_by_the_closed_schema(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty()
    record["data"]["CF_UNKNOWN"] = "x"
    response = await post(ingest, tokens, record)
    assert response.status_code == 422
    assert any(e["path"].startswith("/data") for e in response.json()["errors"])


async def test_unknown_record_type_is_refused(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    record = factories.penalty() | {"type": "tax_refund"}
    response = await post(ingest, tokens, record)
    assert response.status_code == 422
    assert error_at(response, "/type")["code"] == "unknown_type"


async def test_type_outside_the_departments_catalogue_entry_is_forbidden(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    response = await post(ingest, tokens, factories.penalty(department="COURT"), who="COURT")
    assert response.status_code == 403
    assert response.json()["errors"][0]["path"] == "/type"


async def test_correction_of_an_unknown_record_is_refused(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    correction = factories.fresh(factories.examples("record_revocation")[0], "AMR")
    correction["data"]["target_record_id"] = "AMR-never-reported"
    response = await post(ingest, tokens, correction)
    assert response.status_code == 422
    assert error_at(response, "/data/target_record_id")["code"] == "unknown_target"


async def test_correction_data_is_validated_against_the_target_type(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    original = factories.penalty()
    assert (await post(ingest, tokens, original)).status_code == 202
    correction = factories.fresh(factories.examples("record_correction")[0], "AMR")
    correction["data"]["target_record_id"] = original["id"]
    correction["subject"] = original["subject"]
    broken = dict(original["data"])
    del broken["CF_WSH"]
    correction["data"]["corrected_data"] = broken
    response = await post(ingest, tokens, correction)
    assert response.status_code == 422
    assert error_at(response, "/data/corrected_data/CF_WSH")["code"] == "required"


# -- HTTP-level refusals --------------------------------------------------------------------------


async def test_missing_or_unknown_token_is_401(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    record = factories.penalty()
    assert (await ingest.post("/v1/records", json=record)).status_code == 401
    bad = {"Authorization": "Bearer cx_000000000000_not-a-real-secret"}
    response = await ingest.post("/v1/records", json=record, headers=bad)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_county_and_auditor_tokens_cannot_report(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    for who in ("COUNTY", "AUDITOR"):
        assert (await post(ingest, tokens, factories.penalty(), who)).status_code == 403


async def test_non_json_body_is_415(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    headers = bearer(tokens, "AMR") | {"Content-Type": "text/plain"}
    response = await ingest.post("/v1/records", content=b"hello", headers=headers)
    assert response.status_code == 415


async def test_malformed_json_is_400_with_a_reason(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    headers = bearer(tokens, "AMR") | {"Content-Type": "application/json"}
    response = await ingest.post("/v1/records", content=b'{"id": "x", \xff}', headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "malformed_json"


async def test_oversized_body_is_413(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    record = factories.penalty()
    record["data"]["BZ"] = "很" * 600_000
    response = await post(ingest, tokens, record)
    assert response.status_code == 413


# -- idempotency ----------------------------------------------------------------------------------


async def test_retry_with_same_content_returns_the_original_receipt(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty()
    first = await post(ingest, tokens, record)
    again = await post(ingest, tokens, record)
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["receipt"] == first.json()["receipt"]


async def test_same_id_with_different_content_is_409(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    record = factories.penalty()
    assert (await post(ingest, tokens, record)).status_code == 202
    changed = record | {"data": record["data"] | {"CF_NR_FK": 9.9}}
    response = await post(ingest, tokens, changed)
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "conflict"


async def test_same_id_from_another_department_is_a_different_record(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty()
    assert (await post(ingest, tokens, record, "AMR")).status_code == 202
    assert (await post(ingest, tokens, record, "TAX")).status_code == 202


# -- batch ----------------------------------------------------------------------------------------


async def test_batch_accepts_valid_items_and_reports_each_failure(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    good = factories.penalty()
    invalid = factories.penalty()
    del invalid["data"]["CF_WSH"]
    outside = factories.fresh(factories.examples("judgment_defaulter_listing")[0], "AMR")
    response = await ingest.post(
        "/v1/records:batch", json={"records": [good, invalid, outside, good]}, headers=bearer(tokens, "AMR")
    )
    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["status"] for r in results] == [202, 422, 403, 200]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert results[1]["errors"][0]["path"] == "/data/CF_WSH"
    assert results[3]["receipt"] == results[0]["receipt"]


async def test_batch_over_the_limit_is_refused(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    record = factories.penalty()
    response = await ingest.post("/v1/records:batch", json={"records": [record] * 1001}, headers=bearer(tokens, "AMR"))
    assert response.status_code == 413


# -- receipts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decision", "due"),
    [("2026-09-28", "2026-10-13"), ("2026-09-29", "2026-10-14"), ("2026-02-13", "2026-03-02")],
    ids=["before-national-day", "make-up-saturday-counts", "spring-festival"],
)
async def test_receipt_disclosure_due_follows_the_working_day_calendar(
    ingest: httpx.AsyncClient, tokens: dict[str, str], decision: str, due: str
) -> None:
    response = await post(ingest, tokens, factories.penalty(decision_date=decision))
    assert response.status_code == 202, response.text
    receipt = response.json()["receipt"]
    assert receipt["disclosure_due"] == due
    assert receipt["provisional"] is False


async def test_deadline_beyond_the_calendar_is_provisional(
    ingest: httpx.AsyncClient, tokens: dict[str, str], at: FixedClock
) -> None:
    at.set(datetime(2026, 12, 30, 10, 0, tzinfo=SHANGHAI))
    response = await post(ingest, tokens, factories.penalty(decision_date="2026-12-28"))
    assert response.status_code == 202, response.text
    receipt = response.json()["receipt"]
    assert receipt["provisional"] is True
    assert receipt["disclosure_due"] == "2027-01-06"  # weekdays only: 12-29 … 01-06


async def test_reporting_more_than_seven_days_after_the_decision_is_late(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    on_time = await post(ingest, tokens, factories.penalty(decision_date="2026-11-13"))
    late = await post(ingest, tokens, factories.penalty(decision_date="2026-11-12"))
    assert on_time.json()["receipt"]["reported_late"] is False
    assert late.json()["receipt"]["reported_late"] is True


async def test_non_disclosure_records_have_no_disclosure_due(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    record = factories.fresh(factories.examples("judgment_defaulter_listing")[0], "COURT")
    response = await post(ingest, tokens, record, "COURT")
    assert response.status_code == 202, response.text
    assert response.json()["receipt"]["disclosure_due"] is None


async def test_receipts_are_signed_and_chained_per_department(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    first = (await post(ingest, tokens, factories.penalty(department="TAX"), "TAX")).json()["receipt"]
    second = (await post(ingest, tokens, factories.penalty(department="TAX"), "TAX")).json()["receipt"]
    assert second["seq"] == first["seq"] + 1
    assert second["prev_hash"] == first["hash"]
    pem = (await ingest.get("/v1/receipts/public-key")).content
    key = load_pem_public_key(pem)
    assert verify(first, key)  # type: ignore[arg-type]
    tampered = first | {"received_at": "2026-01-01T00:00:00+00:00"}
    assert not verify(tampered, key)  # type: ignore[arg-type]
    assert base64.b64decode(first["signature"])


# -- delivery to Kafka --------------------------------------------------------------------------------


async def test_accepted_record_reaches_its_topic_as_a_cloudevent(
    ingest: httpx.AsyncClient, tokens: dict[str, str], stack: Stack
) -> None:
    record = factories.penalty()
    receipt = (await post(ingest, tokens, record)).json()["receipt"]
    topic = stack.config.topic_prefix + "records.acts"
    message = await find_on_topic(stack.bootstrap, topic, lambda m: header(m, "ce_id") == f"AMR/{record['id']}")
    assert message.key == record["subject"]["code"].encode()
    assert header(message, "ce_specversion") == "1.0"
    assert header(message, "ce_type") == "cn.credit.record.administrative_penalty.v1"
    assert header(message, "ce_source") == "/departments/AMR"
    assert header(message, "ce_subject") == record["subject"]["code"]
    assert header(message, "ce_dataschema") == "/v1/catalogue/administrative_penalty/1"
    payload = orjson.loads(message.value or b"")
    assert payload == {"record": record, "receipt": receipt}


# -- public documents --------------------------------------------------------------------------------


async def test_catalogue_is_public_and_lists_field_classes(ingest: httpx.AsyncClient) -> None:
    response = await ingest.get("/v1/catalogue")
    assert response.status_code == 200
    assert "administrative_penalty" in response.text
    assert "masked" in response.text


async def test_openapi_has_an_example_for_every_record_type(ingest: httpx.AsyncClient) -> None:
    spec = (await ingest.get("/openapi.json")).json()
    examples = spec["paths"]["/v1/records"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    types = {e["value"]["type"] for e in examples.values()}
    from services.common.catalogue import load_catalogue

    assert types == set(load_catalogue(factories.SCHEMAS).record_types)


async def test_rejections_are_counted_per_department_type_and_code(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty(department="HOUSING")
    del record["data"]["CF_YJ"]
    assert (await post(ingest, tokens, record, "HOUSING")).status_code == 422

    async def counted() -> list[dict[str, Any]] | None:
        response = await ingest.get("/v1/rejections", headers=bearer(tokens, "HOUSING"))
        rows = [r for r in response.json()["rejections"] if r["record_type"] == "administrative_penalty"]
        return [r for r in rows if r["code"] == "required"] or None

    rows = await eventually(counted, timeout=15, what="the rejection count to be stored")
    assert rows[0]["department"] == "HOUSING"
    other = await ingest.get("/v1/rejections?department=AMR", headers=bearer(tokens, "HOUSING"))
    assert other.status_code == 403


async def test_related_persons_id_numbers_are_checked_inside_the_list(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    listing = factories.fresh(factories.examples("serious_untrustworthy_listing")[1], "AMR")
    good = listing["data"]["related_persons"][1]["id_number"]
    listing["data"]["related_persons"][1]["id_number"] = good[:-1] + ("0" if good[-1] != "0" else "1")
    response = await post(ingest, tokens, listing)
    assert response.status_code == 422
    assert error_at(response, "/data/related_persons/1/id_number")["code"] == "citizen_id_check_character"


async def test_a_revoked_token_is_refused(ingest: httpx.AsyncClient, stack_env: dict[str, str]) -> None:
    from services.common.auth import Role, issue, register_department, revoke

    engine = ingest.app.state.engine  # type: ignore[attr-defined]
    await register_department(engine, "AMR", "市场监管局")
    issued = await issue(engine, role=Role.DEPARTMENT, name="市场监管局 (rotated)", department="AMR")
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert (await ingest.post("/v1/records", json=factories.penalty(), headers=headers)).status_code == 202
    assert await revoke(engine, issued.credential_id)

    async def refused() -> bool:
        response = await ingest.post("/v1/records", json=factories.penalty(), headers=headers)
        return response.status_code == 401

    # Services cache a token lookup for at most 5 seconds (docs/decisions.md).
    await eventually(refused, timeout=10, what="the revoked token to be refused")


async def test_requests_finding_a_token_s_cache_expired_together_look_it_up_once(
    ingest: httpx.AsyncClient,
) -> None:
    """Under load every request in flight used to look the credential up when its cache entry expired."""
    import asyncio

    from services.common.auth import Authenticator, Role, issue, register_department, revoke

    class Counted(Authenticator):
        lookups = 0

        async def _load(self, credential_id: str) -> Any:
            Counted.lookups += 1
            return await super()._load(credential_id)

    engine = ingest.app.state.engine  # type: ignore[attr-defined]
    await register_department(engine, "AMR", "市场监管局")
    issued = await issue(engine, role=Role.DEPARTMENT, name="市场监管局 (load)", department="AMR")
    auth = Counted(engine, cache_seconds=0.0)
    principals = await asyncio.gather(*(auth.authenticate(issued.token) for _ in range(50)))
    assert {p.name if p else None for p in principals} == {"市场监管局 (load)"}
    assert Counted.lookups == 1
    assert await auth.authenticate(issued.token[:-1] + "x") is None  # a wrong secret
    assert await revoke(engine, issued.credential_id)
    assert await auth.authenticate(issued.token) is None  # the next lookup sees the revocation
    assert Counted.lookups == 3


async def test_an_amendment_must_name_the_subject_of_the_record_it_amends(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    original = factories.penalty()
    assert (await post(ingest, tokens, original)).status_code == 202
    revocation = factories.fresh(factories.examples("record_revocation")[0], "AMR")
    revocation["data"]["target_record_id"] = original["id"]
    revocation["subject"] = {"kind": "legal_person", "code": factories.uscc(), "name": "另一家公司"}
    response = await post(ingest, tokens, revocation)
    assert response.status_code == 422
    assert error_at(response, "/subject/code")["code"] == "subject_mismatch"
