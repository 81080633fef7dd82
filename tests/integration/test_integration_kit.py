"""The integration kit of issue 21 through the services' HTTP APIs: /docs with no internet, the declared
OpenAPI contract, RFC 9457 fields on errors, and read-back of a department's own records and receipts."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import orjson
import pytest
import yaml
from aiokafka import ConsumerRecord
from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.common.clock import SHANGHAI, FixedClock
from tests import factories
from tests.helpers import find_on_topic

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "grading", "sanctions", "publish")
NEWER = ("supervision", "reports", "bridge")  # services added after the four, held to the same contract
DECLARED = yaml.safe_load((REPO / "schemas" / "openapi" / "operations.yaml").read_text(encoding="utf-8"))


def _app(service: str) -> FastAPI:
    """The app as its factory builds it; /docs, its assets and /openapi.json need no lifespan."""
    module = __import__(f"services.{service}.app", fromlist=["create_app"])
    app: FastAPI = module.create_app()
    return app


@pytest.fixture(scope="module")
async def apps() -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    clients = {
        s: httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(s)), base_url=f"http://{s}")
        for s in SERVICES + NEWER
    }
    yield clients
    for client in clients.values():
        await client.aclose()


def bearer(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['TOKEN_' + who]}"}


# -- /docs with no internet ---------------------------------------------------------------------------------

REFERENCE = re.compile(
    r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)|(?:url|openapi_url)\s*:\s*["']([^"']+)["']"""
)


@pytest.mark.parametrize("service", SERVICES + NEWER)
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_name_no_external_host_and_every_asset_they_load_is_served(
    service: str, page: str, apps: dict[str, httpx.AsyncClient]
) -> None:
    client = apps[service]
    response = await client.get(page)
    assert response.status_code == 200, response.text
    html = response.text
    external = re.findall(r"(?:https?:)?//(?!(?:www\.)?w3\.org)[a-z0-9.-]+\.[a-z]{2,}", html)
    assert not external, f"{page} of {service} names an external host: {external}"
    references = {next(g for g in m.groups() if g) for m in REFERENCE.finditer(html)}
    assets = [r for r in references if r.startswith("/")]
    assert any(a.endswith(".js") for a in assets), f"{page} loads no script of its own: {references}"
    assert "/openapi.json" in assets
    assert page == "/redoc" or '"validatorUrl": null' in html  # Swagger UI's validator badge calls out
    for asset in assets:
        loaded = await client.get(urljoin(str(client.base_url), asset))
        assert loaded.status_code == 200, f"{service}{page}: {asset} → {loaded.status_code}"
        assert loaded.content, asset


# -- the declared OpenAPI contract ----------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES + NEWER)
async def test_every_operation_has_its_declared_stable_id_security_and_answer_schemas(
    service: str, apps: dict[str, httpx.AsyncClient]
) -> None:
    spec = (await apps[service].get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"],
    }
    ids = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            key = f"{method.upper()} {path}"
            declared = DECLARED[service].get(key)
            assert declared, f"{service}: {key} is not declared in schemas/openapi/operations.yaml"
            assert op["operationId"] == declared["id"]
            ids.append(op["operationId"])
            assert "security" in op, key
            if declared["auth"] == "token":
                assert op["security"] == [{"bearer": []}], key
                assert {"401", "403"} <= set(op["responses"]), key
            for status, answer in op["responses"].items():
                media = answer.get("content", {})
                if status == "204":
                    assert not media, f"{key} 204 documents a body"
                    continue
                assert media, f"{key} {status} documents no body"
                schema = next(iter(media.values()))["schema"]
                assert schema, f"{key} {status} has an empty schema"
                if status[0] in "45":
                    assert media == {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
            assert any(s.startswith("2") for s in op["responses"]), key
    assert len(ids) == len(set(ids)), f"{service}: duplicate operation ids {sorted(ids)}"
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem["required"])
    served = {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops}
    assert served == set(DECLARED[service]), f"{service}: declared but not served {set(DECLARED[service]) - served}"


def test_the_workbench_serves_no_json_operation_and_no_openapi() -> None:
    """The workbench is HTML for clerks (excluded from OpenAPI as the portal's pages are): a JSON endpoint
    added to it must first be declared and given an OpenAPI."""
    app = _app("workbench")
    assert app.openapi_url is None
    in_schema = [r.path for r in app.routes if isinstance(r, APIRoute) and r.include_in_schema]
    assert in_schema == [], f"workbench routes outside the page router: {in_schema}"


PARAMETER = re.compile(r"\{[^}/]*\}")  # path parameters compare by position, not name


@pytest.mark.parametrize("service", SERVICES + NEWER)
async def test_the_contract_in_the_repository_names_every_operation(
    service: str, apps: dict[str, httpx.AsyncClient]
) -> None:
    """docs/API.md (the shared contract plus every extension) mentions each operation a service serves."""
    contract = PARAMETER.sub("{}", (REPO / "docs" / "API.md").read_text(encoding="utf-8"))
    spec = (await apps[service].get("/openapi.json")).json()
    missing = [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method in operations
        if f"{method.upper()} {PARAMETER.sub('{}', path)}" not in contract
    ]
    assert not missing, f"docs/API.md does not describe {missing}"


# -- RFC 9457 beside errors -----------------------------------------------------------------------------------


async def test_an_invalid_record_answers_every_error_and_the_rfc_9457_members(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty()
    del record["data"]["CF_WSH"]
    record["data"]["CF_JDRQ"] = "2026-13-01"
    response = await ingest.post("/v1/records", json=record, headers=bearer(tokens, "AMR"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"  # unchanged for existing clients
    body = response.json()
    assert len(body["errors"]) >= 2
    assert body["status"] == 422
    assert body["title"] == "数据校验未通过"
    assert body["type"] == "urn:credit-exchange:problem:validation_failed"
    assert body["errors"][0]["message"] in body["detail"]


async def test_a_single_kind_of_error_names_its_code_as_the_problem_type(ingest: httpx.AsyncClient) -> None:
    response = await ingest.post("/v1/records", json={}, headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "urn:credit-exchange:problem:unauthenticated"
    assert (body["status"], body["title"]) == (401, "未认证")
    assert body["errors"][0]["code"] == "unauthenticated"
    assert body["detail"] == body["errors"][0]["message"]


# -- read-back for reconciliation ----------------------------------------------------------------------------


async def _accepted(
    ingest: httpx.AsyncClient, tokens: dict[str, str], who: str = "AMR"
) -> tuple[dict[str, Any], dict[str, Any]]:
    record = factories.penalty(department=who)
    response = await ingest.post("/v1/records", json=record, headers=bearer(tokens, who))
    assert response.status_code == 202, response.text
    return record, response.json()["receipt"]


async def test_a_department_reads_back_its_record_as_accepted_and_the_read_is_access_logged(
    ingest: httpx.AsyncClient, tokens: dict[str, str], stack_env: dict[str, str]
) -> None:
    record, receipt = await _accepted(ingest, tokens)
    response = await ingest.get(f"/v1/records/{record['id']}", headers=bearer(tokens, "AMR"))
    assert response.status_code == 200, response.text
    held = response.json()
    assert held["record"] == record
    assert held["receipt"] == receipt
    assert (held["department"], held["record_type"], held["subject_code"]) == (
        "AMR",
        "administrative_penalty",
        record["subject"]["code"],
    )

    def logged(message: ConsumerRecord[bytes, bytes]) -> bool:
        data = orjson.loads(message.value or b"{}")
        return data.get("subject") == record["subject"]["code"] and data.get("what") == "record"

    message = await find_on_topic(
        stack_env["KAFKA_BOOTSTRAP"], stack_env["EXCHANGE_TOPIC_PREFIX"] + "audit.access", logged
    )
    data = orjson.loads(message.value or b"")
    assert (data["department"], data["role"], data["purpose"]) == ("AMR", "department", "reconciliation")


async def test_another_departments_record_is_not_found_and_only_departments_read_back(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record, _ = await _accepted(ingest, tokens)
    other = await ingest.get(f"/v1/records/{record['id']}", headers=bearer(tokens, "TAX"))
    assert other.status_code == 404
    assert other.json()["errors"][0]["code"] == "not_found"
    for who in ("COUNTY", "AUDITOR"):
        refused = await ingest.get(f"/v1/records/{record['id']}", headers=bearer(tokens, who))
        assert refused.status_code == 403, who
    anonymous = await ingest.get("/v1/receipts?from=2026-11-20")
    assert anonymous.status_code == 401


async def test_receipts_between_two_times_come_in_chain_order_and_page_without_gaps(
    ingest: httpx.AsyncClient, tokens: dict[str, str], at: FixedClock
) -> None:
    # A day of its own (the clock is moved), so the page holds exactly this test's receipts.
    day = datetime(2027, 3, 3, 9, 0, tzinfo=SHANGHAI)
    at.set(day)
    receipts = [(await _accepted(ingest, tokens, "HOUSING"))[1] for _ in range(3)]
    at.set(day + timedelta(days=1))
    late = (await _accepted(ingest, tokens, "HOUSING"))[1]
    first = await ingest.get("/v1/receipts?from=2027-03-03&limit=2", headers=bearer(tokens, "HOUSING"))
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["receipts"] == receipts[:2]
    assert page["next_cursor"] == str(receipts[1]["seq"])
    second = await ingest.get(
        f"/v1/receipts?from=2027-03-03&limit=2&cursor={page['next_cursor']}", headers=bearer(tokens, "HOUSING")
    )
    assert second.json()["receipts"] == receipts[2:]
    assert second.json()["next_cursor"] is None
    assert [r["prev_hash"] for r in receipts[1:]] == [r["hash"] for r in receipts[:2]]
    both = await ingest.get(
        "/v1/receipts",
        params={"from": "2027-03-03T00:00:00+08:00", "to": "2027-03-05"},
        headers=bearer(tokens, "HOUSING"),
    )
    assert both.json()["receipts"] == [*receipts, late]
    assert all(r["department"] == "HOUSING" for r in both.json()["receipts"])
    wrong = await ingest.get("/v1/receipts?from=2027-03-05&to=2027-03-03", headers=bearer(tokens, "HOUSING"))
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["path"] == "/query/to"


# -- verifying a receipt without Python -------------------------------------------------------------------


async def test_a_receipt_verifies_with_jq_and_openssl_alone_and_a_changed_record_does_not(
    ingest: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    """clients/shell/verify-receipt.sh, as docs/接入指南.md shows it, on a real receipt."""
    record, receipt = await _accepted(ingest, tokens)
    (tmp_path / "answer.json").write_text(json.dumps({"receipt": receipt}, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "record.json").write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    (tmp_path / "key.pem").write_bytes((await ingest.get("/v1/receipts/public-key")).content)
    script = str(REPO / "clients" / "shell" / "verify-receipt.sh")
    files = [str(tmp_path / name) for name in ("answer.json", "record.json", "key.pem")]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", script, *files], capture_output=True, text=True, check=False)

    checked = await asyncio.to_thread(run)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "签名有效" in checked.stdout
    assert f"摘要一致 (hash matches): {receipt['hash']}" in checked.stdout

    record["data"]["CF_NR_FK"] = 25  # what the department sent was 2.5 (万元)
    (tmp_path / "record.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    changed = await asyncio.to_thread(run)
    assert changed.returncode == 1
    assert "摘要不一致" in changed.stdout

    receipt["reported_late"] = not receipt["reported_late"]
    (tmp_path / "answer.json").write_text(json.dumps(receipt, ensure_ascii=False), encoding="utf-8")
    forged = await asyncio.to_thread(run)
    assert forged.returncode == 1
    assert "签名无效" in forged.stdout
