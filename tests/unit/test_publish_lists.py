"""Lists published while in force, and the list events the county platform learns (issue 15; rules/lists.py).

Pure: records + the day in, the derived disclosures (and their list state) out.
"""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.common.calendar import WorkingDayCalendar
from services.common.catalogue import load_catalogue
from services.common.records import AcceptedRecord
from services.publish.rules import list_events, load_publicity_rules
from services.publish.rules.derive import Derived, DisclosureRules, derive_disclosures

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
RULES = DisclosureRules(
    load_catalogue(SCHEMAS),
    load_publicity_rules(SCHEMAS),
    WorkingDayCalendar.load(SCHEMAS / "calendar" / "overrides.yaml"),
)
COMPANY = {"kind": "legal_person", "code": "915001012031456727", "name": "示范县恒达建材有限公司"}
PERSON = {"kind": "natural_person", "code": "500101199211203627", "name": "王芳"}
MINOR = {"kind": "natural_person", "code": "110105201005010018", "name": "李小明"}  # born 2010-05-01


def _example(record_type: str, index: int) -> dict[str, Any]:
    items = json.loads((SCHEMAS / "examples" / f"{record_type}.json").read_text(encoding="utf-8"))
    found: dict[str, Any] = copy.deepcopy(items[index])
    return found


_seq = iter(range(1, 1_000_000))


def record(
    record_type: str,
    index: int,
    decided: str,
    *,
    record_id: str | None = None,
    subject: dict[str, str] = COMPANY,
    **data: Any,
) -> AcceptedRecord:
    envelope = _example(record_type, index)
    envelope["subject"] = dict(subject)
    envelope["decision_date"] = decided
    envelope["data"].update({"decision_date": decided, **data})
    envelope["data"] = {k: v for k, v in envelope["data"].items() if v is not None}
    if record_id:
        envelope["id"] = record_id
    department = envelope["id"].split("-", 1)[0]
    seq = next(_seq)
    received = f"{date.fromisoformat(decided) + timedelta(days=1)}T10:00:00+08:00"
    return AcceptedRecord(
        event_id=f"{department}/{envelope['id']}",
        department=department,
        record_id=envelope["id"],
        record_type=record_type,
        version=1,
        subject_code=subject["code"],
        decision_date=date.fromisoformat(decided),
        received_at=datetime.fromisoformat(received),
        record=envelope,
        receipt={"department": department, "received_at": received, "seq": seq},
    )


def derived(records: list[AcceptedRecord], on: str) -> dict[str, Derived]:
    return {d.record_id: d for d in derive_disclosures(records, RULES, date.fromisoformat(on))}


def events(records: list[AcceptedRecord], before: str, after: str, record_id: str) -> list[str]:
    """The list events announced for ``record_id`` when the subject is recomputed on ``after`` having been
    stored as on ``before``."""
    old, new = derived(records, before).get(record_id), derived(records, after)[record_id]
    return list_events(old.content["listing"] if old else None, new.content["listing"])


def serious(stage: str, decided: str, record_id: str, **data: Any) -> AcceptedRecord:
    index = 0 if stage == "拟列入告知" else 1
    extra: dict[str, Any] = {"removal_reason": "信用修复"} if stage == "移出" else {}
    return record("serious_untrustworthy_listing", index, decided, record_id=record_id, stage=stage, **extra, **data)


# --- 严重失信主体名单 ------------------------------------------------------------------------------------


def test_serious_listing_is_public_from_decision_to_removal() -> None:
    listing = serious("认定", "2026-06-22", "HOUSING-T-1")
    removal = serious("移出", "2026-09-01", "HOUSING-T-2")
    assert not derived([listing], "2026-06-21")["HOUSING-T-1"].publish
    shown = derived([listing], "2026-06-22")["HOUSING-T-1"]
    assert shown.publish
    assert shown.exempt
    assert shown.content["data"]["stage"] == "认定"
    assert derived([listing, removal], "2026-08-31")["HOUSING-T-1"].publish
    after = derived([listing, removal], "2026-09-01")
    assert not after["HOUSING-T-1"].publish
    assert (
        after["HOUSING-T-1"].content["listing"] | {"end": "exited", "ended_by": "HOUSING-T-2"}
        == after["HOUSING-T-1"].content["listing"]
    )
    assert not after["HOUSING-T-2"].publish  # the removal record itself is not a list entry


def test_serious_listing_leaves_the_portal_the_day_after_its_listing_period_end() -> None:
    listing = serious("认定", "2026-06-22", "HOUSING-T-3", listing_period_end="2027-06-21")
    last = derived([listing], "2027-06-21")["HOUSING-T-3"]
    assert last.publish
    assert last.publicity_until == date(2027, 6, 21)
    assert last.withdraw_on == date(2027, 6, 22)
    gone = derived([listing], "2027-06-22")["HOUSING-T-3"]
    assert not gone.publish
    assert gone.content["listing"]["end"] == "expired"
    assert gone.withdraw_on is None


def test_listing_notice_is_never_public() -> None:
    notice = serious("拟列入告知", "2026-06-02", "HOUSING-T-4")
    for day in ("2026-06-02", "2026-06-10", "2027-01-01"):
        found = derived([notice], day)["HOUSING-T-4"]
        assert not found.publish
        assert found.exempt
    assert events([notice], "2026-06-01", "2026-06-02", "HOUSING-T-4") == []


def test_a_removal_ends_only_the_entries_of_its_own_list() -> None:
    construction = serious("认定", "2026-06-22", "HOUSING-T-5")
    other = serious("认定", "2026-06-23", "HOUSING-T-6", list_name="安全生产严重失信名单")
    removal = serious("移出", "2026-09-01", "HOUSING-T-7")
    now = derived([construction, other, removal], "2026-09-02")
    assert not now["HOUSING-T-5"].publish
    assert now["HOUSING-T-6"].publish


def test_revoking_the_removal_puts_the_entry_back_on_the_portal_and_announces_it_again() -> None:
    listing = serious("认定", "2026-06-22", "HOUSING-T-8")
    removal = serious("移出", "2026-09-01", "HOUSING-T-9")
    revocation = record("record_revocation", 0, "2026-09-10", record_id="HOUSING-T-10", target_record_id="HOUSING-T-9")
    files = [listing, removal, revocation]
    assert not derived(files, "2026-09-09")["HOUSING-T-8"].publish
    assert derived(files, "2026-09-10")["HOUSING-T-8"].publish
    assert events(files, "2026-09-09", "2026-09-10", "HOUSING-T-8") == ["entered"]


# --- 失信被执行人 ----------------------------------------------------------------------------------------


def test_defaulter_person_shows_masked_id_and_not_other_related_persons() -> None:
    person = record("judgment_defaulter_listing", 1, "2026-07-20", subject=PERSON)
    shown = derived([person], "2026-07-21")[person.record_id]
    assert shown.publish
    assert shown.content["subject"] == {"kind": "natural_person", "name": "王芳", "code": "500101********3627"}
    company = record(
        "judgment_defaulter_listing",
        0,
        "2026-07-08",
        related_persons=[
            {"role": "法定代表人", "name": "张伟", "id_type": "身份证", "id_number": "500101196802155715"},
            {"role": "实际控制人", "name": "李强", "id_type": "身份证", "id_number": "11010519491231002X"},
            {"role": "其他直接责任人员", "name": "赵六", "id_type": "身份证", "id_number": "11010519491231002X"},
        ],
    )
    data = derived([company], "2026-07-09")[company.record_id].content["data"]
    assert data["related_persons"] == [{"role": "法定代表人", "name": "张伟"}]  # as the court publishes it
    assert "李强" not in json.dumps(data, ensure_ascii=False)


@pytest.mark.parametrize("action", ["屏蔽", "撤销", "移出"])
def test_defaulter_is_public_from_listing_to_its_blocking_revocation_or_removal(action: str) -> None:
    listing = record("judgment_defaulter_listing", 0, "2026-07-08", record_id="COURT-T-1")
    other_case = record(
        "judgment_defaulter_listing", 0, "2026-07-09", record_id="COURT-T-2", case_no="（2026）渝0101执9号"
    )
    end = record(
        "judgment_defaulter_listing", 0, "2026-10-08", record_id="COURT-T-3", action=action, reason="已全部履行"
    )
    files = [listing, other_case, end]
    assert derived(files, "2026-10-07")["COURT-T-1"].publish
    after = derived(files, "2026-10-08")
    assert not after["COURT-T-1"].publish
    assert after["COURT-T-2"].publish
    assert events(files, "2026-10-07", "2026-10-08", "COURT-T-1") == ["exited"]
    assert after["COURT-T-1"].content["listing"]["end_action"] == action


def test_a_minors_listing_is_not_published_but_still_announced() -> None:
    listing = record("judgment_defaulter_listing", 1, "2026-07-20", subject=MINOR)
    found = derived([listing], "2026-07-21")[listing.record_id]
    assert not found.publish
    assert events([listing], "2026-07-19", "2026-07-21", listing.record_id) == ["entered"]


# --- 红名单, 经营异常名录 ----------------------------------------------------------------------------------


def test_red_list_entry_is_public_from_entry_to_exit_or_valid_until() -> None:
    entry = record("red_list", 0, "2026-07-15", record_id="DRC-T-1", valid_until="2028-12-31")
    assert derived([entry], "2026-07-15")["DRC-T-1"].publish
    assert derived([entry], "2028-12-31")["DRC-T-1"].publish
    assert not derived([entry], "2029-01-01")["DRC-T-1"].publish
    assert events([entry], "2028-12-31", "2029-01-01", "DRC-T-1") == ["expired"]
    exit_ = record("red_list", 0, "2027-01-05", record_id="DRC-T-2", action="移出", reason="发生失信行为")
    assert not derived([entry, exit_], "2027-01-05")["DRC-T-1"].publish


def test_abnormal_operation_entry_is_public_from_listing_to_the_removal_that_names_it() -> None:
    listing = record("abnormal_operation_listing", 0, "2026-07-01", record_id="AMR-T-1")
    second = record("abnormal_operation_listing", 0, "2026-07-02", record_id="AMR-T-2")
    removal = record("abnormal_operation_listing", 1, "2026-08-18", record_id="AMR-T-3", listing_record_id="AMR-T-1")
    now = derived([listing, second, removal], "2026-08-18")
    assert not now["AMR-T-1"].publish
    assert now["AMR-T-2"].publish
    assert not now["AMR-T-3"].publish
    assert now["AMR-T-3"].content["listing"]["ends"] == ["AMR-T-1"]


def test_a_removal_of_an_entry_the_exchange_never_received_is_announced_itself() -> None:
    removal = record("abnormal_operation_listing", 1, "2026-08-18", record_id="AMR-T-4", listing_record_id="AMR-OLD")
    assert events([removal], "2026-08-17", "2026-08-18", "AMR-T-4") == ["exited"]


# --- 重点关注名单, 约谈, 信用承诺 -----------------------------------------------------------------------


def test_watch_list_is_never_published_but_its_entry_and_expiry_are_announced() -> None:
    entry = record("watch_list", 0, "2026-06-01", record_id="AMR-T-5")
    found = derived([entry], "2026-06-01")["AMR-T-5"]
    assert not found.publish
    assert found.content["data"] == {}
    assert found.shared is not None
    assert found.shared["measures"].startswith("列为重点监管对象")
    assert events([entry], "2026-05-31", "2026-06-01", "AMR-T-5") == ["entered"]
    assert found.withdraw_on == date(2027, 6, 1)  # the ticker recomputes it when it expires
    assert events([entry], "2027-05-31", "2027-06-01", "AMR-T-5") == ["expired"]


def test_an_interview_is_shared_never_published_and_announced_once() -> None:
    interview = record("supervision_interview", 0, "2026-07-10")
    found = derived([interview], "2026-07-11")[interview.record_id]
    assert not found.publish
    assert found.content["data"] == {}
    assert found.shared is not None
    assert found.shared["interview_kind"]
    assert list_events(None, found.content["listing"]) == ["recorded"]
    assert list_events(found.content["listing"], found.content["listing"]) == []


def test_a_commitment_is_public_while_open_and_its_fulfilment_for_twelve_months() -> None:
    made = record("credit_commitment", 0, "2026-04-03", record_id="AMR-T-6")
    kept = record("credit_commitment", 0, "2026-05-20", record_id="AMR-T-7", event="履行", text=None)
    files = [made, kept]
    assert derived(files, "2026-05-19")["AMR-T-6"].publish
    now = derived(files, "2026-05-20")
    assert not now["AMR-T-6"].publish
    assert now["AMR-T-7"].publish
    assert now["AMR-T-7"].publicity_until == date(2027, 5, 20)
    assert not derived(files, "2027-05-21")["AMR-T-7"].publish
    assert events(files, "2026-05-19", "2026-05-20", "AMR-T-6") == ["exited"]


def test_a_breach_without_its_document_is_not_published() -> None:
    made = record("credit_commitment", 0, "2026-04-03", record_id="AMR-T-8")
    breach = record("credit_commitment", 1, "2026-05-21", record_id="AMR-T-9")
    found = derived([made, breach], "2026-05-22")
    assert not found["AMR-T-9"].publish
    assert "001 L646" in found["AMR-T-9"].reason
    assert not found["AMR-T-8"].publish  # no longer open: it was breached


def test_list_state_does_not_depend_on_the_order_records_arrived_in() -> None:
    files = [
        serious("认定", "2026-06-22", "HOUSING-T-11"),
        serious("移出", "2026-09-01", "HOUSING-T-12"),
        record("watch_list", 0, "2026-06-01", record_id="AMR-T-10"),
        record("credit_commitment", 0, "2026-04-03", record_id="AMR-T-11"),
    ]
    expected = derive_disclosures(files, RULES, date(2026, 10, 1))
    assert derive_disclosures(list(reversed(files)), RULES, date(2026, 10, 1)) == expected
