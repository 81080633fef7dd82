"""Who may call what: every endpoint of every service × every kind of caller, in one table (SECURITY.md).

The table is enumerated against each app's routes, so a new endpoint without a row fails
``test_every_endpoint_has_exactly_one_row`` until someone decides who may call it. "Allowed" means the
caller gets past authentication and the role check (any answer but 401/403, and never a 5xx); "refused"
means exactly 401 ``unauthenticated`` (no, unknown, malformed or revoked token) or 403 ``forbidden`` (a
valid token whose role may not), with the API.md error body.

Below the table: the rules a role check alone cannot show — a department reports only as itself and only
the types of its catalogue entry, and reads only its own deadlines, rejections, checks, objections,
repairs and scorecards — and what the public must never see (a whistleblower, a shared field). Masked
names and ID numbers and minors' records are shown in ``tests/integration/publish/test_privacy.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, routing

from services.common.catalogue import load_catalogue
from services.publish.portal import RateLimit
from tests import factories
from tests.integration.publish.support import public_id, wait_shown
from tests.security.conftest import DEPARTMENTS

DEPTS = frozenset(DEPARTMENTS)
TOKENS = DEPTS | {"county", "auditor"}  # every valid token
# Objections and repair applications: the subject, or on its behalf (the workbench credential, alone, files as
# anyone may: it is refused only where a role is required).
FILERS = DEPTS | {"county", "public", "workbench"}
EVERYONE = TOKENS | {"public", "revoked", "garbage", "workbench"}  # endpoints that never look at a token
UNAUTHENTICATED = frozenset({"public", "revoked", "garbage"})
ACTORS = sorted(EVERYONE)
SUBSCRIBERS = DEPTS | {"county"}  # webhook subscriptions (the auditor reads every log, subscribes to nothing)
COUNTY_OFFICE_AND_AUDITOR = frozenset({"county", "auditor"})

NOBODY_CODE = "91500101MA00000000"  # a well-formed code no test reports about (check character not needed)
MONTH = "2026-11"


@dataclass(frozen=True)
class Row:
    """Who may call an endpoint, and one request that reaches its role check without changing state
    (ids that do not exist, bodies that fail validation after the role check)."""

    allowed: frozenset[str]
    path: str | None = None  # the template with its parameters filled in; None: the template itself
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None
    may_be_unready: bool = False  # /readyz answers 503 until the consumer has joined its group


DOCS_AND_HEALTH = {
    # API documentation carries no data; health and metrics are for the operator's monitoring. A
    # deployment's reverse proxy routes only /v1/ (and publish's portal) to the public (SECURITY.md).
    ("GET", "/openapi.json"): Row(EVERYONE),
    ("GET", "/docs"): Row(EVERYONE),
    ("GET", "/docs/oauth2-redirect"): Row(EVERYONE),
    ("GET", "/redoc"): Row(EVERYONE),
    ("GET", "/healthz"): Row(EVERYONE),
    ("GET", "/readyz"): Row(EVERYONE, may_be_unready=True),
    ("GET", "/metrics"): Row(EVERYONE),
}
OBJECTION = {"record_id": "AMR.NO-SUCH-RECORD", "subject_code": NOBODY_CODE, "reason": "不属实", "contact": "123"}
REPAIR = {
    "record_id": "AMR.NO-SUCH-RECORD",
    "subject_code": NOBODY_CODE,
    "commitment": "本单位承诺依法诚信经营，不再发生同类违法行为。",
    "fulfilment": "罚款已缴纳",
    "contact": "123",
}

MATRIX: dict[str, dict[tuple[str, str], Row]] = {
    "ingest": {
        **DOCS_AND_HEALTH,
        ("POST", "/v1/records"): Row(DEPTS, json={}),
        ("POST", "/v1/records:batch"): Row(DEPTS, json={"records": []}),
        ("POST", "/v1/records:preview"): Row(DEPTS, json={}),
        ("GET", "/v1/catalogue"): Row(EVERYONE),
        ("GET", "/v1/receipts/public-key"): Row(EVERYONE),
        ("GET", "/v1/receipts/public-keys"): Row(EVERYONE),
        ("GET", "/v1/rejections"): Row(TOKENS),
        ("GET", "/v1/scorecard"): Row(TOKENS, params={"month": MONTH}),
        # Read-back for reconciliation: a department's own records and receipts only (issue 21).
        ("GET", "/v1/records/{record_id}"): Row(DEPTS, path="/v1/records/NO-SUCH-RECORD"),
        ("GET", "/v1/receipts"): Row(DEPTS, params={"from": "2026-11-20"}),
    },
    "grading": {
        **DOCS_AND_HEALTH,
        ("GET", "/v1/subjects/{code}/grade"): Row(TOKENS, path=f"/v1/subjects/{NOBODY_CODE}/grade"),
        ("GET", "/v1/rule-sets"): Row(TOKENS),
    },
    "sanctions": {
        **DOCS_AND_HEALTH,
        ("GET", "/v1/subjects/{code}/restrictions"): Row(
            TOKENS, path=f"/v1/subjects/{NOBODY_CODE}/restrictions", params={"matter": "government_procurement"}
        ),
        ("GET", "/v1/cases"): Row(TOKENS),
        ("GET", "/v1/cases/{case_id}"): Row(TOKENS, path="/v1/cases/no-such-case"),
        ("GET", "/v1/checks"): Row(TOKENS),
        ("GET", "/v1/scorecard"): Row(TOKENS, params={"month": MONTH}),
        ("GET", "/v1/checks/compliance"): Row(TOKENS, params={"month": MONTH}),
        ("GET", "/v1/measures"): Row(EVERYONE),  # the measure list is public (001 L621, 003 L81)
    },
    "publish": {
        **DOCS_AND_HEALTH,
        ("GET", "/v1/disclosures"): Row(EVERYONE, params={"q": "某某"}),
        ("GET", "/v1/disclosures/{record_id}"): Row(EVERYONE, path="/v1/disclosures/AMR.NO-SUCH-RECORD"),
        ("POST", "/v1/objections"): Row(FILERS, json=OBJECTION),
        ("GET", "/v1/objections/{objection_id}"): Row(
            EVERYONE, path="/v1/objections/OBJ-20261120-00000000", params={"code": NOBODY_CODE}
        ),
        ("GET", "/v1/objections"): Row(TOKENS),
        ("POST", "/v1/repairs"): Row(FILERS, json=REPAIR),
        ("GET", "/v1/repairs/{repair_id}"): Row(
            EVERYONE, path="/v1/repairs/REP-20261120-00000000", params={"code": NOBODY_CODE}
        ),
        ("GET", "/v1/repairs"): Row(TOKENS),
        ("GET", "/v1/deadlines"): Row(TOKENS),
        ("GET", "/v1/feed"): Row(TOKENS),
        ("GET", "/v1/scorecard"): Row(TOKENS, params={"month": MONTH}),
        # The portal (HTML, no token anywhere): what the public API shows, and the two forms.
        ("GET", "/static/portal.css"): Row(EVERYONE),
        ("GET", "/"): Row(EVERYONE, params={"q": "某某"}),
        ("GET", "/subjects/{code}"): Row(EVERYONE, path=f"/subjects/{NOBODY_CODE}"),
        ("GET", "/lists"): Row(EVERYONE),
        ("GET", "/lists/{record_type}"): Row(EVERYONE, path="/lists/serious_untrustworthy_listing"),
        ("GET", "/records/{public_id}"): Row(EVERYONE, path="/records/AMR.NO-SUCH-RECORD"),
        ("GET", "/objections/new"): Row(EVERYONE),
        ("POST", "/objections/new"): Row(EVERYONE, form=OBJECTION),
        ("GET", "/repairs/new"): Row(EVERYONE),
        ("POST", "/repairs/new"): Row(EVERYONE, form=REPAIR),
        ("GET", "/cases"): Row(EVERYONE),
        # Public 信用承诺 pages (issue 22).
        ("GET", "/commitments"): Row(EVERYONE),
        ("GET", "/commitments/{slug}"): Row(EVERYONE, path="/commitments/no-such-kind"),
        ("GET", "/objections/{objection_id}"): Row(
            EVERYONE, path="/objections/OBJ-20261120-00000000", params={"code": NOBODY_CODE}
        ),
        ("GET", "/repairs/{repair_id}"): Row(
            EVERYONE, path="/repairs/REP-20261120-00000000", params={"code": NOBODY_CODE}
        ),
    },
    # Issue 16. A report's files and metadata: public and 专项 reports are public documents, a check report
    # is its department's (and the county's and auditor's): tests/integration/reports/test_reports.py.
    "reports": {
        **DOCS_AND_HEALTH,
        ("POST", "/v1/reports"): Row(TOKENS, json={"code": NOBODY_CODE, "matter": "public_tender"}),
        ("POST", "/v1/subjects/{code}/reports"): Row(EVERYONE, path=f"/v1/subjects/{NOBODY_CODE}/reports", json={}),
        ("GET", "/v1/reports/public-key"): Row(EVERYONE),
        ("GET", "/v1/reports/{number}.pdf"): Row(EVERYONE, path="/v1/reports/XYBG-20261120-9999999.pdf"),
        ("GET", "/v1/reports/{number}.html"): Row(EVERYONE, path="/v1/reports/XYBG-20261120-9999999.html"),
        ("GET", "/v1/reports/{number}"): Row(EVERYONE, path="/v1/reports/XYBG-20261120-9999999"),
        ("GET", "/v1/reports/{number}/verification"): Row(
            EVERYONE, path="/v1/reports/XYBG-20261120-9999999/verification"
        ),
        ("POST", "/v1/reports:verify"): Row(EVERYONE),
        ("POST", "/v1/checks:batch"): Row(TOKENS, json={"matter": "public_tender", "codes": [NOBODY_CODE]}),
        ("GET", "/v1/checks/{number}"): Row(TOKENS, path="/v1/checks/XYHC-20261120-9999999"),
        ("GET", "/v1/scorecard"): Row(frozenset({"county", "auditor"}), params={"month": MONTH}),
        ("GET", "/verify"): Row(EVERYONE, params={"number": "XYBG-20261120-9999999"}),
        ("POST", "/verify"): Row(EVERYONE, form={"number": "XYBG-20261120-9999999"}),
        ("POST", "/portal/reports"): Row(EVERYONE, form={"code": NOBODY_CODE}),
    },
    # Issue 20. The feed and the delivery logs: every token (a department its own); subscribing: departments
    # and the county; the province's reconciliation and file, national list imports and forwarded repairs:
    # the county office (the auditor reads them).
    "bridge": {
        **DOCS_AND_HEALTH,
        ("GET", "/v1/outcomes"): Row(TOKENS),
        ("POST", "/v1/subscriptions"): Row(SUBSCRIBERS, json={}),
        ("GET", "/v1/subscriptions"): Row(TOKENS),
        ("GET", "/v1/subscriptions/{sub_id}"): Row(TOKENS, path="/v1/subscriptions/sub_nosuch"),
        ("GET", "/v1/subscriptions/{sub_id}/deliveries"): Row(TOKENS, path="/v1/subscriptions/sub_nosuch/deliveries"),
        ("POST", "/v1/subscriptions/{sub_id}/resume"): Row(SUBSCRIBERS, path="/v1/subscriptions/sub_nosuch/resume"),
        ("DELETE", "/v1/subscriptions/{sub_id}"): Row(SUBSCRIBERS, path="/v1/subscriptions/sub_nosuch"),
        ("GET", "/v1/bridge/reconciliation"): Row(COUNTY_OFFICE_AND_AUDITOR, params={"date": "2026-11-20"}),
        ("GET", "/v1/bridge/exports/{day}"): Row(COUNTY_OFFICE_AND_AUDITOR, path="/v1/bridge/exports/2026-11-20"),
        ("POST", "/v1/bridge/inbound"): Row(frozenset({"county"}), json={}),
        ("GET", "/v1/bridge/inbound"): Row(COUNTY_OFFICE_AND_AUDITOR),
        ("GET", "/v1/bridge/inbound/{file_id}"): Row(COUNTY_OFFICE_AND_AUDITOR, path="/v1/bridge/inbound/inb_nosuch"),
        ("POST", "/v1/bridge/repairs"): Row(frozenset({"county"}), json={}),
        ("GET", "/v1/bridge/repairs/{reference}"): Row(
            COUNTY_OFFICE_AND_AUDITOR, path="/v1/bridge/repairs/XYZG-NOSUCH"
        ),
    },
}
ROWS = [(service, method, template) for service, rows in MATRIX.items() for method, template in rows]


def served_endpoints(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route the app serves (HEAD follows GET and is not listed)."""
    flatten = getattr(routing, "iter_route_contexts", None)  # FastAPI ≥ 0.13x keeps included routers nested
    routes = flatten(app.routes) if flatten else app.routes
    return {(m, getattr(r, "path", "")) for r in routes for m in (getattr(r, "methods", None) or ()) if m != "HEAD"}


@pytest.fixture
def no_portal_form_limit(publish: httpx.AsyncClient) -> Iterator[None]:
    """The matrix posts each portal form once per caller from one address; the form's own per-address
    limit (tested in tests/integration/portal) is lifted meanwhile."""
    state = publish.app.state  # type: ignore[attr-defined]
    state.portal_rate_limit = RateLimit(10_000, 60)
    yield
    state.portal_rate_limit = None


def test_matrix_rows_name_only_known_callers() -> None:
    for (service, method, template), row in ((k, MATRIX[k[0]][k[1:]]) for k in ROWS):
        assert row.allowed <= EVERYONE, f"{service} {method} {template}: unknown caller {row.allowed - EVERYONE}"
        # Admitting a revoked or garbage token only makes sense where no token is looked at: the public too.
        assert not (UNAUTHENTICATED & row.allowed) or "public" in row.allowed, (service, method, template)


@pytest.mark.parametrize("service", list(MATRIX))
async def test_every_endpoint_has_exactly_one_row(service: str, apps: dict[str, httpx.AsyncClient]) -> None:
    served = served_endpoints(apps[service].app)  # type: ignore[attr-defined]
    missing = sorted(served - MATRIX[service].keys())
    stale = sorted(MATRIX[service].keys() - served)
    assert not missing, (
        f"{service} serves endpoints the authorization matrix does not cover: {missing}. Add one row each to "
        f"MATRIX[{service!r}] in tests/security/test_authorization_matrix.py saying who may call it."
    )
    assert not stale, f"MATRIX[{service!r}] has rows for endpoints {service} no longer serves: {stale}"


@pytest.mark.usefixtures("no_portal_form_limit")
@pytest.mark.parametrize(("service", "method", "template"), ROWS, ids=[f"{s}:{m} {t}" for s, m, t in ROWS])
async def test_each_caller_is_allowed_or_refused_exactly_as_the_matrix_says(
    service: str,
    method: str,
    template: str,
    apps: dict[str, httpx.AsyncClient],
    actors: dict[str, dict[str, str]],
) -> None:
    row = MATRIX[service][(method, template)]
    client = apps[service]
    wrong: list[str] = []
    for actor in ACTORS:
        response = await client.request(
            method,
            row.path or template,
            params=row.params,
            json=row.json,
            data=row.form,
            headers=actors[actor],
        )
        if row.may_be_unready and response.status_code == 503:
            continue
        problem = _judge(actor in row.allowed, actor, response)
        if problem:
            wrong.append(f"  {actor}: {problem}")
    assert not wrong, f"{service} {method} {template}:\n" + "\n".join(wrong)


def _judge(allowed: bool, actor: str, response: httpx.Response) -> str | None:
    """None when the answer is what the matrix says; else what is wrong with it."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}: {response.text[:300]}"
    if allowed:
        if status == 405:  # the row's request did not reach the endpoint at all
            return f"405: the row's request does not reach {response.request.method} {response.request.url.path}"
        return f"refused with {status} but allowed: {response.text[:300]}" if status in (401, 403) else None
    expected, code = (401, "unauthenticated") if actor in UNAUTHENTICATED else (403, "forbidden")
    if status != expected:
        return f"answered {status}, expected {expected}: {response.text[:300]}"
    errors = response.json().get("errors", [])
    if [e.get("code") for e in errors] != [code]:
        return f"error body {errors}, expected one error with code {code!r}"
    if expected == 401 and not response.headers.get("www-authenticate", "").startswith("Bearer"):
        return "401 without `WWW-Authenticate: Bearer`"
    return None


# -- a department acts only as itself ------------------------------------------------------------


def _bearer(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['TOKEN_' + who]}"}


async def test_the_reporting_department_is_the_tokens_never_the_bodys(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty(department="AMR")  # an AMR-looking id and AMR as the deciding authority …
    response = await ingest.post("/v1/records", json=record, headers=_bearer(tokens, "TAX"))  # … sent by TAX
    assert response.status_code == 202, response.text
    assert response.json()["receipt"]["department"] == "TAX"

    claims = factories.penalty() | {"department": "AMR"}
    response = await ingest.post("/v1/records", json=claims, headers=_bearer(tokens, "TAX"))
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["/department"]


CATALOGUE = load_catalogue(factories.SCHEMAS)
EXAMPLE_OF = {path.stem: factories.examples(path.stem)[0] for path in (factories.SCHEMAS / "examples").glob("*.json")}
OUTSIDE_ENTRY = [
    (department, record_type)
    for department in DEPARTMENTS
    for record_type in sorted(EXAMPLE_OF)
    if department not in CATALOGUE.record_types[record_type].departments
]


@pytest.mark.parametrize("department", DEPARTMENTS)
async def test_no_department_may_report_a_type_outside_its_catalogue_entry(
    department: str, ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """Every (department, type) pair the catalogue does not grant: 403, alone and inside a batch."""
    refused = [t for d, t in OUTSIDE_ENTRY if d == department]
    assert refused, f"{department} may report every type; this test would show nothing for it"
    records = []
    for record_type in refused:
        record = factories.fresh(EXAMPLE_OF[record_type], department)
        response = await ingest.post("/v1/records", json=record, headers=_bearer(tokens, department))
        assert response.status_code == 403, f"{department} reported {record_type}: {response.text}"
        assert response.json()["errors"][0]["path"] == "/type"
        records.append(record)
    response = await ingest.post("/v1/records:batch", json={"records": records}, headers=_bearer(tokens, department))
    assert response.status_code == 207
    assert {item["status"] for item in response.json()["results"]} == {403}


# -- a department reads only its own -------------------------------------------------------------

# (service, path, extra query): endpoints whose `department=` a department may set only to itself.
OWN_DEPARTMENT_ONLY = [
    ("ingest", "/v1/rejections", {}),
    ("ingest", "/v1/scorecard", {"month": MONTH}),
    ("sanctions", "/v1/cases", {}),
    ("sanctions", "/v1/scorecard", {"month": MONTH}),
    ("publish", "/v1/deadlines", {}),
    ("publish", "/v1/objections", {}),
    ("publish", "/v1/repairs", {}),
    ("publish", "/v1/scorecard", {"month": MONTH}),
]


@pytest.mark.parametrize(
    ("service", "path", "query"), OWN_DEPARTMENT_ONLY, ids=[f"{s}:{p}" for s, p, _ in OWN_DEPARTMENT_ONLY]
)
async def test_a_department_reads_its_own_view_never_anothers(
    service: str,
    path: str,
    query: dict[str, str],
    apps: dict[str, httpx.AsyncClient],
    tokens: dict[str, str],
) -> None:
    client = apps[service]
    for reader in DEPARTMENTS:
        for other in DEPARTMENTS:
            response = await client.get(path, params={**query, "department": other}, headers=_bearer(tokens, reader))
            if other == reader:
                assert response.status_code == 200, f"{reader} reading its own {path}: {response.text}"
            else:
                assert response.status_code == 403, f"{reader} read {other}'s {path}: {response.text}"
                assert response.json()["errors"][0]["path"] == "/query/department"
        own = await client.get(path, params=query, headers=_bearer(tokens, reader))
        assert own.status_code == 200, own.text
        foreign = sorted({d for d in _departments_named(own.json()) if d != reader})
        assert not foreign, f"{reader}'s {path} shows other departments' entries: {foreign}"
    for supervisor in ("COUNTY", "AUDITOR"):
        response = await client.get(path, params={**query, "department": "TAX"}, headers=_bearer(tokens, supervisor))
        assert response.status_code == 200, f"{supervisor} reading TAX's {path}: {response.text}"


def _departments_named(value: Any) -> Iterator[str]:
    """Every string under a `department` key (the department an entry belongs to), at any depth —
    except inside a sanctions case's instructions and trigger: a joint case names every department it
    instructs and the department that initiated it (发起 → 响应), whichever of them reads it."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "department" and isinstance(child, str):
                yield child
            elif key not in ("instructions", "trigger"):
                yield from _departments_named(child)
    elif isinstance(value, list):
        for child in value:
            yield from _departments_named(child)


async def test_a_department_sees_only_the_restriction_checks_it_asked(
    sanctions: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = factories.uscc()
    asked = await sanctions.get(
        f"/v1/subjects/{code}/restrictions", params={"matter": "government_procurement"}, headers=_bearer(tokens, "TAX")
    )
    assert asked.status_code == 200, asked.text

    def checks(who: str) -> Any:
        return sanctions.get("/v1/checks", params={"code": code}, headers=_bearer(tokens, who))

    assert (await checks("TAX")).json()["count"] == 1
    for other in ("AMR", "COURT", "HOUSING", "DRC"):
        assert (await checks(other)).json()["count"] == 0, f"{other} saw TAX's check"
    for supervisor in ("COUNTY", "AUDITOR"):
        assert (await checks(supervisor)).json()["count"] == 1


# -- what the public never sees --------------------------------------------------------------------


async def test_the_public_never_sees_a_whistleblower_or_a_departments_only_field(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """`restricted` (the informant of an inspection) and `shared` fields (internal remarks, a legal
    representative's ID number) are in no public answer: the record, the search, the portal page."""
    inspection = factories.fresh(EXAMPLE_OF["inspection_result"])
    inspection["subject"]["code"] = factories.uscc()
    inspection["decision_date"] = inspection["data"]["decision_date"] = "2026-11-16"  # within its publicity
    inspection["data"]["inspected_on"] = "2026-11-10"
    inspection["data"]["informant"] = {"name": "举报人王五", "contact": "13800001111"}
    inspection["data"]["remarks"] = "内部备注：线索来自实名举报"
    penalty = factories.penalty(fine=20.0)  # a general penalty: published (a minor one may not be)
    penalty["data"] |= {"CF_FR_ZJLX": "身份证", "CF_FR_ZJHM": factories.citizen_id(), "BZ": "内部备注：从重情节"}
    secrets = [
        "举报人王五",
        "13800001111",
        "内部备注",
        penalty["data"]["CF_FR_ZJHM"],
    ]
    for record in (inspection, penalty):
        response = await ingest.post("/v1/records", json=record, headers=_bearer(tokens, "AMR"))
        assert response.status_code == 202, response.text
    for record in (inspection, penalty):
        record_id = public_id(record)
        await wait_shown(publish, record_id)
        answers = [
            await publish.get(f"/v1/disclosures/{record_id}"),
            await publish.get("/v1/disclosures", params={"q": record["subject"]["code"]}),
            await publish.get(f"/records/{record_id}"),
            await publish.get(f"/subjects/{record['subject']['code']}"),
        ]
        for answer in answers:
            assert answer.status_code == 200, answer.text
            assert record_id in answer.text
            shown = [s for s in secrets if s in answer.text]
            assert not shown, f"{answer.request.url} shows {shown}"


async def test_the_public_and_a_bad_token_never_get_a_grade_restriction_or_case(
    grading: httpx.AsyncClient, sanctions: httpx.AsyncClient, actors: dict[str, dict[str, str]]
) -> None:
    """Spelled out from the matrix for the reads DOMAIN §5 and §8 name: not public, whatever is sent."""
    reads = [
        (grading, f"/v1/subjects/{NOBODY_CODE}/grade", {}),
        (sanctions, f"/v1/subjects/{NOBODY_CODE}/restrictions", {"matter": "government_procurement"}),
        (sanctions, "/v1/cases", {}),
    ]
    for client, path, params in reads:
        for who in sorted(UNAUTHENTICATED):
            response = await client.get(path, params=params, headers=actors[who])
            assert response.status_code == 401, f"{who} {path}: {response.text}"
            assert "grade" not in response.json()
