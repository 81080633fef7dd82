"""Pure rules of the bridge: audience, back-off, the national format, reconciliation, and the signature
scheme as a receiver verifies it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from standardwebhooks import Webhook

from services.bridge.province import reconciliation
from services.bridge.rules import inbound
from services.bridge.rules.audience import departments_named, endpoint_problem, may_read, may_subscribe, wants
from services.bridge.rules.backoff import Schedule, attempts_within
from services.bridge.rules.national import to_province
from services.bridge.webhooks import signed_request
from services.common.catalogue import load_catalogue
from services.common.settings import CommonSettings

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


def test_departments_see_only_outcomes_naming_them_and_subscribe_only_to_instructions_and_objections() -> None:
    assert departments_named({"department": "TAX", "departments": ["TAX", "AMR"]}) == ["TAX", "AMR"]
    assert departments_named({"grade": "C"}) == []
    assert may_read("county", None, [])
    assert not may_read("department", "AMR", [])  # a grade
    assert may_read("department", "AMR", ["AMR"])
    assert may_subscribe("county", ["grade", "cn.credit.repair.answered"]) is None
    assert may_subscribe("department", ["cn.credit.objection.filed", "grade"]) == "grade"
    assert may_subscribe("auditor", ["grade"]) == "grade"
    assert may_subscribe("county", ["cn.other.x"]) == "cn.other.x"
    assert wants("county", None, ["disclosure"], "cn.credit.disclosure.withdrawn", ["AMR"])
    assert not wants("department", "TAX", ["cn.credit.sanction.instruction"], "cn.credit.sanction.instruction", ["AMR"])


def test_back_off_doubles_to_its_cap_and_retries_for_at_least_a_day_before_pausing() -> None:
    s = Schedule(base_seconds=5, cap_seconds=3600, pause_after=timedelta(hours=24))
    assert s.next_attempt(1, T0) == T0 + timedelta(seconds=5)
    assert s.next_attempt(4, T0) == T0 + timedelta(seconds=40)
    assert s.next_attempt(100, T0) == T0 + timedelta(hours=1)
    assert attempts_within(s, timedelta(hours=24)) >= 24
    assert not s.should_pause(T0, T0 + timedelta(hours=23, minutes=59))
    assert s.should_pause(T0, T0 + timedelta(hours=24))


def test_the_national_format_keeps_the_data_elements_and_marks_withdrawals_with_a_deadline() -> None:
    data = {"department": "AMR", "record_id": "r1", "record_type": "administrative_penalty", "content": {"CF_WSH": "x"}}
    published = to_province(
        "e1",
        "cn.credit.disclosure.published",
        "S",
        date(2026, 11, 20),
        data,
        uscc={"AMR": "U"},
        withdrawal_working_days=3,
    )
    assert published is not None
    assert published.action == "I"
    assert published.payload["fields"] == {"CF_WSH": "x"}
    assert published.must_reach_by_working_days is None
    gone = to_province(
        "e2",
        "cn.credit.disclosure.withdrawn",
        "S",
        date(2026, 11, 20),
        {**data, "content": None},
        uscc={},
        withdrawal_working_days=3,
    )
    assert gone is not None
    assert (gone.action, gone.must_reach_by_working_days, gone.payload["fields"]) == ("D", 3, {})
    assert (
        to_province("e3", "cn.credit.grade.changed", "S", date(2026, 11, 20), data, uscc={}, withdrawal_working_days=3)
        is None
    )


def test_reconciliation_counts_by_type_and_names_late_withdrawals() -> None:
    def row(i: str, state: str, action: str = "I", attempts: int = 1) -> dict[str, object]:
        return {"event_id": i, "action": action, "record_type": "p", "department": "AMR", "state": state,
                "attempts": attempts, "last_error": None, "answer": None}  # fmt: skip

    rows = [row("a", "acknowledged"), row("b", "refused"), row("c", "pending", "D", 0)]
    deadlines = [
        {
            "event_id": "c",
            "department": "AMR",
            "record_id": "r",
            "event_date": date(2026, 11, 16),
            "due_date": date(2026, 11, 19),
            "answered_at": None,
        },
        {
            "event_id": "d",
            "department": "AMR",
            "record_id": "r",
            "event_date": date(2026, 11, 16),
            "due_date": date(2026, 11, 19),
            "answered_at": datetime(2026, 11, 19, 3, tzinfo=UTC),
        },
    ]
    report = reconciliation(date(2026, 11, 16), rows, deadlines, T0)
    assert report["totals"] == {"total": 3, "sent": 2, "acknowledged": 1, "refused": 1, "pending": 1}
    assert report["difference"] == 1
    assert [x["event_id"] for x in report["late_withdrawals"]] == ["c"]


def test_a_delivery_verifies_with_the_standard_webhooks_scheme() -> None:
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    row = SimpleNamespace(
        event_id="publish:AMR.r1:published", source="/services/publish", type="cn.credit.disclosure.published",
        subject="91500101X", time=T0, data={"名称": "测试", "a": 1},
    )  # fmt: skip
    body, headers = signed_request(row, Webhook(secret), datetime.now(UTC))
    assert Webhook(secret).verify(body, headers) == {"名称": "测试", "a": 1}
    assert headers["webhook-id"] == headers["ce-id"]


def test_only_https_endpoints_are_registered_unless_plain_http_is_allowed_for_development() -> None:
    assert endpoint_problem("https://county.example/hooks", allow_http=False) is None
    assert endpoint_problem("http://county.example/hooks", allow_http=False) == (
        "推送地址须为 https:// (the endpoint must be https://)"
    )
    assert endpoint_problem("http://127.0.0.1:9000/hook", allow_http=True) is None
    assert endpoint_problem("ftp://county.example/x", allow_http=True) is not None
    assert endpoint_problem("https:///nohost", allow_http=False) == "推送地址无主机名 (the URL names no host)"


def test_list_changes_go_to_the_province_with_their_list_fields_and_an_exit_with_a_deadline() -> None:
    data = {
        "event": "entered",
        "department": "HOUSING",
        "record_id": "l1",
        "record_type": "serious_untrustworthy_listing",
        "data": {"list_name": "严重失信主体名单", "category": "x"},
        "listing": {"end": None},
    }
    entered = to_province(
        "e1", "cn.credit.list.entered", "S", date(2026, 11, 20), data, uscc={"HOUSING": "U"}, withdrawal_working_days=3
    )
    assert entered is not None
    assert (entered.action, entered.record_type, entered.payload["fields"]) == (
        "I",
        "serious_untrustworthy_listing",
        data["data"],
    )
    assert entered.payload["record_key"] == "HOUSING.l1"
    exited = to_province(
        "e2",
        "cn.credit.list.exited",
        "S",
        date(2026, 11, 20),
        {**data, "event": "exited", "listing": {"end": "信用修复"}},
        uscc={},
        withdrawal_working_days=3,
    )
    assert exited is not None
    assert (exited.action, exited.must_reach_by_working_days, exited.payload["reason"]) == ("D", 3, "信用修复")
    # An entry imported from a national list came from there: it is not pushed back up.
    imported = {**data, "record_id": "nat:ZXGK-1"}
    assert (
        to_province(
            "e3", "cn.credit.list.entered", "S", date(2026, 11, 20), imported, uscc={}, withdrawal_working_days=3
        )
        is None
    )


def test_every_national_list_becomes_a_record_of_its_line_with_the_issuing_authority() -> None:
    catalogue = load_catalogue(CommonSettings().schemas_dir)
    rows = [
        {
            "id": f"N-{name}",
            "list": name,
            "department": national.departments[0],
            "authority": "国家机关",
            "subject": {"kind": "legal_person", "code": "91500101MA5U000001", "name": "某公司"},
            "decision_date": "2026-11-05",
            "fields": {"x": 1},
        }
        for name, national in inbound.LISTS.items()
    ]
    wrong_line = rows[0] | {"id": "N-wrong", "department": "TAX"}  # court defaulters come through the court
    body = {"format": inbound.FORMAT, "batch_id": "B1", "records": [*rows, wrong_line]}
    assert inbound.file_problem(body) is None
    got = inbound.rows_of(body, catalogue.departments, catalogue.record_types)
    assert {r.list_name: (r.state, r.record_type, r.department) for r in got[:-1]} == {
        "judgment_defaulter": ("pending", "judgment_defaulter_listing", "COURT"),
        "major_tax_violation": ("pending", "serious_untrustworthy_listing", "TAX"),
        "serious_violation": ("pending", "serious_untrustworthy_listing", "AMR"),
        "red_list": ("pending", "red_list", "DRC"),
    }
    for row in got[:-1]:
        assert row.envelope is not None
        assert row.envelope["id"] == f"nat:N-{row.list_name}"
        assert row.envelope["source"] == {
            "channel": "national",
            "list": row.list_name,
            "authority": "国家机关",
            "reference": f"N-{row.list_name}",
        }
    assert (got[-1].state, got[-1].errors[0].code) == ("refused", "department_not_for_list")
