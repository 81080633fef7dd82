"""Pure rules of the bridge: audience, back-off, the national format, reconciliation, and the signature
scheme as a receiver verifies it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from standardwebhooks import Webhook

from services.bridge.province import reconciliation
from services.bridge.rules.audience import departments_named, may_read, may_subscribe, wants
from services.bridge.rules.backoff import Schedule, attempts_within
from services.bridge.rules.national import to_province
from services.bridge.webhooks import signed_request

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
