"""The pure grading rules (DOMAIN §5): chongqing-amr (000 L176-L197, L257-L295) and benxi-2017 (004 L37-L57).

Records are built by the small factory below, in the shapes of the catalogue schemas (checked by
`test_factory_records_are_valid_for_their_schemas`). Dates: a period of one year after D ends on the same
month and day a year later, so a penalty of 2026-01-10 counts through 2027-01-10 (民法典 Arts. 201-202).
"""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.records import AcceptedRecord
from services.grading.rules import (
    GradeResult,
    RuleSetError,
    RuleSetLookupError,
    RuleSets,
    RuleSetVersion,
    evaluate,
    load_jurisdiction,
    load_rule_set,
    load_rule_sets,
    one_year_after,
    rule_set_version_for,
)
from services.grading.rules.credit_file import to_yuan, within_years
from services.grading.rules.model import GRADES, INDUSTRY_RISKS, LEVELS, PENALTY_KINDS, REGION_CLASSES, ChongqingRules

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
COMPANY, SHOP = "91500101MA5U7K3PXJ", "92500101MA61CN4H1P"
USCC = {"AMR": "11500101MB15070149", "TAX": "11500101MB15070224", "COURT": "11500101009356126W"}
USCC |= {"HOUSING": "11500101MB1507030Y", "DRC": "11500101MB1507049U"}
LABELS = {"legal_person": "法人及非法人组织", "individual_business": "个体工商户"}
_SEQ = itertools.count(1)


# ---------------------------------------------------------------- factory


def _record(
    record_type: str, data: dict[str, Any], *, department: str, kind: str = "legal_person", version: int = 1
) -> AcceptedRecord:
    decided = data.get("CF_JDRQ") or data["decision_date"]
    seq = next(_SEQ)
    record_id = f"{department}-{record_type.split('_')[-1].upper()}-{seq:05d}"
    code = SHOP if kind == "individual_business" else COMPANY
    record = {"id": record_id, "type": record_type, "version": version, "decision_date": decided, "data": data}
    record["subject"] = {"kind": kind, "code": code, "name": "示范县鑫源食品有限公司"}
    received = f"{decided}T09:00:00+08:00"
    receipt = {"record_id": record_id, "department": department, "received_at": received, "seq": seq}
    return AcceptedRecord(
        event_id=f"ev-{seq}",
        department=department,
        record_id=record_id,
        record_type=record_type,
        version=version,
        subject_code=code,
        decision_date=date.fromisoformat(decided),
        received_at=datetime.fromisoformat(received),
        record=record,
        receipt=receipt,
    )


def penalty(
    decided: str,
    *kinds: str,
    fine: float | None = None,
    confiscated: float | None = None,
    licence: str | None = None,
    department: str = "AMR",
    kind: str = "legal_person",
    version: int = 1,
    **v2: Any,
) -> AcceptedRecord:
    """行政处罚; amounts in 万元 as the record carries them (JSON numbers). `v2`: catalogue v2 fields."""
    code = SHOP if kind == "individual_business" else COMPANY
    data: dict[str, Any] = {
        "CF_XDR_MC": "示范县鑫源食品有限公司",
        "CF_XDR_LB": LABELS[kind],
        "CF_XDR_SHXYM": code,
        "CF_FRDB": "王建国",
        "CF_WSH": f"示罚〔2026〕{next(_SEQ)}号",
        "CF_WFXW": "经营超过保质期的食品",
        "CF_SY": "销售超过保质期的预包装食品。",
        "CF_YJ": "《中华人民共和国食品安全法》第一百二十四条",
        "CF_CFLB": list(kinds),
        "CF_NR": "、".join(kinds),
        "CF_JDRQ": decided,
        "CF_YXQ": str(date.fromisoformat(decided) + timedelta(days=365)),
        "CF_CFJG": "示范县某局",
        "CF_CFJGDM": USCC[department],
        "CF_SJLY": "示范县某局",
        "CF_SJLYDM": USCC[department],
    }
    if fine is not None:
        data["CF_NR_FK"] = fine
    if confiscated is not None:
        data["CF_NR_WFFF"] = confiscated
    if licence is not None:
        data["CF_NR_ZKDX"] = licence
    data |= v2
    return _record("administrative_penalty", data, department=department, kind=kind, version=version)


def registration(
    event: str,
    decided: str,
    *,
    established: str = "2019-07-02",
    industry: str = "一般行业",
    region: str = "一般监管区域",
    kind: str = "legal_person",
) -> AcceptedRecord:
    data: dict[str, Any] = {
        "event": event,
        "name": "示范县鑫源食品有限公司",
        "subject_category": LABELS[kind],
        "entity_type": "个体工商户" if kind == "individual_business" else "有限责任公司",
        "legal_representative": "王建国",
        "establishment_date": established,
        "industry_code": "F5221",
        "industry_name": "百货零售",
        "industry_risk": industry,
        "region_class": region,
        "registration_authority": "示范县市场监督管理局",
        "registration_authority_uscc": USCC["AMR"],
        "decision_date": decided,
    }
    if event == "变更":
        data["changed_items"] = ["住所"]
    return _record("subject_registration", data, department="AMR", kind=kind)


def correction(target: AcceptedRecord, decided: str, **changes: Any) -> AcceptedRecord:
    data: dict[str, Any] = {"target_record_id": target.record_id, "reason_kind": "自行纠错", "reason": "金额录入错误"}
    data |= {"corrected_data": {**target.data, **changes}, "decision_date": decided}
    return _record("record_correction", data, department=target.department)


def revocation(target: AcceptedRecord, decided: str) -> AcceptedRecord:
    data = {"target_record_id": target.record_id, "reason_kind": "撤销", "reason": "行政复议撤销"}
    data |= {"document_no": "示府复〔2026〕9号", "decision_date": decided}
    return _record("record_revocation", data, department=target.department)


def reward(decided: str, department: str = "AMR") -> AcceptedRecord:
    data = {"act_kind": "行政奖励", "act_name": "授予守合同重信用企业称号", "document_no": "示市监奖〔2026〕1号"}
    data |= {"content": "通报表扬", "basis": "《某某办法》", "authority": "示范县某局"}
    data |= {"authority_uscc": USCC[department], "decision_date": decided}
    return _record("administrative_action", data, department=department)


def red_list(action: str, decided: str, *, valid_until: str | None = None) -> AcceptedRecord:
    data = {
        "action": action,
        "list_name": "示范县诚信示范企业",
        "reason": "诚信经营",
        "authority": "示范县发展和改革局",
    }
    data |= {"authority_uscc": USCC["DRC"], "decision_date": decided}
    if valid_until:
        data["valid_until"] = valid_until
    return _record("red_list", data, department="DRC")


def serious_listing(stage: str, decided: str, *, impact: bool = False) -> AcceptedRecord:
    data: dict[str, Any] = {"stage": stage, "category": "危害人民群众身体健康和生命安全"}
    data |= {"list_name": "建筑市场主体严重失信名单", "document_kind": "决定书", "document_no": "示住建失信〔2026〕3号"}
    data |= {"reasons": "工程质量事故", "basis": "《建筑市场信用管理暂行办法》", "remedies": "可申请复议"}
    data |= {"deciding_authority": "示范县住房和城乡建设局", "deciding_authority_uscc": USCC["HOUSING"]}
    data["decision_date"] = decided
    if stage == "认定":
        data |= {"underlying_document_no": "示住建罚〔2026〕12号", "measures_notice": "限制招投标"}
        data |= {"removal_conditions": "期满且已整改", "causes_serious_social_impact": impact}
    if stage == "移出":
        data["removal_reason"] = "信用修复"
    return _record("serious_untrustworthy_listing", data, department="HOUSING")


def abnormal(action: str, decided: str) -> AcceptedRecord:
    data = {"action": action, "document_no": "示市监异列〔2026〕31号", "authority": "示范县市场监督管理局"}
    data |= {"authority_uscc": USCC["AMR"], "decision_date": decided}
    if action == "列入":
        data["listing_reason"] = "未按照规定期限公示年度报告"
    else:
        data["removal_reason"] = "补报未报年份的年度报告并公示"
    return _record("abnormal_operation_listing", data, department="AMR")


def defaulter(action: str, decided: str) -> AcceptedRecord:
    data: dict[str, Any] = {"action": action, "case_no": "（2026）渝0101执1234号", "instrument_kind": "民事判决书"}
    data |= {"instrument_no": "（2025）渝0101民初5678号", "court": "示范县人民法院", "court_uscc": USCC["COURT"]}
    data["decision_date"] = decided
    if action == "列入":
        data |= {"obligation": "支付货款 36.5 万元", "performance": "全部未履行", "able_but_refusing": True}
        data["circumstances"] = ["有履行能力而拒不履行生效法律文书确定义务"]
    else:
        data["reason"] = "已履行完毕"
    return _record("judgment_defaulter_listing", data, department="COURT")


def broken_commitment(decided: str, *, document_no: str | None = None) -> AcceptedRecord:
    """违诺; with a document number it is catalogue v2 (document_kind and document_no required when 违诺)."""
    data = {"commitment_kind": "容缺受理型", "event": "违诺", "commitment_no": "CN-2026-1", "matter": "食品经营许可"}
    data |= {"breach_details": "逾期未补齐材料", "accepting_authority": "示范县市场监督管理局"}
    data |= {"accepting_authority_uscc": USCC["AMR"], "decision_date": decided}
    if document_no is None:
        return _record("credit_commitment", data, department="AMR")
    data |= {"document_kind": "行政处理决定书", "document_no": document_no}
    return _record("credit_commitment", data, department="AMR", version=2)


def watch(action: str, decided: str, *, document_no: str | None = "示市监关注〔2026〕2号") -> AcceptedRecord:
    """重点关注名单 (watch_list v1: document_no optional)."""
    data: dict[str, Any] = {"action": action, "list_name": "食品安全重点关注对象名单", "domain": "食品药品"}
    data |= {"reason": "多次抽检不合格", "basis": "《示范县重点关注名单管理办法》", "authority": "示范县市场监督管理局"}
    data |= {"authority_uscc": USCC["AMR"], "decision_date": decided}
    if action == "列入":
        data["measures"] = "增加抽查频次"
    if document_no is not None:
        data["document_no"] = document_no
    return _record("watch_list", data, department="AMR")


def repair(target: AcceptedRecord, decided: str) -> AcceptedRecord:
    """信用修复决定 准予修复 of the department's own record."""
    data = {"repair_id": "REP-20261118-5E6F7A8B", "target_record_id": target.record_id, "decision": "准予修复"}
    data |= {"explanation": "已履行义务并作出信用承诺，准予修复。", "decision_date": decided}
    return _record("repair_decision", data, department=target.department)


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def rule_sets() -> RuleSets:
    return load_rule_sets(SCHEMAS)


@pytest.fixture(scope="module")
def chongqing(rule_sets: RuleSets) -> RuleSetVersion:
    return rule_set_version_for(rule_sets, "chongqing-amr", date(2026, 6, 30))


@pytest.fixture(scope="module")
def benxi(rule_sets: RuleSets) -> RuleSetVersion:
    return rule_set_version_for(rule_sets, "benxi-2017", date(2026, 6, 30))


def grade(
    records: list[AcceptedRecord], rule_set: RuleSetVersion, as_of: str, kind: str = "legal_person"
) -> GradeResult:
    return evaluate(records, rule_set, date.fromisoformat(as_of), subject_kind=kind)


def d(text: str) -> date:
    return date.fromisoformat(text)


# ---------------------------------------------------------------- time and amounts


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param("2026-01-10", "2027-01-10", id="same-month-and-day-next-year"),
        pytest.param("2024-02-29", "2025-02-28", id="29-february-ends-on-28-february"),
        pytest.param("2023-02-28", "2024-02-28", id="28-february-into-a-leap-year"),
        pytest.param("2026-12-31", "2027-12-31", id="year-end"),
    ],
)
def test_one_year_after_is_the_same_month_and_day_next_year(day: str, expected: str) -> None:
    assert one_year_after(d(day)) == d(expected)


@pytest.mark.parametrize(
    ("event", "day", "inside"),
    [
        pytest.param("2026-01-10", "2026-01-10", True, id="decision-day"),
        pytest.param("2026-01-10", "2027-01-10", True, id="last-day-same-date-next-year"),
        pytest.param("2026-01-10", "2027-01-11", False, id="day-after-the-year"),
        pytest.param("2026-01-10", "2026-01-09", False, id="before-the-decision"),
        pytest.param("2024-02-29", "2025-02-28", True, id="leap-day-last-day"),
        pytest.param("2024-02-29", "2025-03-01", False, id="leap-day-day-after"),
    ],
)
def test_within_one_year_includes_both_ends(event: str, day: str, inside: bool) -> None:
    assert within_years(d(event), d(day), 1) is inside


@pytest.mark.parametrize(
    ("wan_yuan", "yuan"),
    [
        pytest.param(3, "30000", id="3-wan-is-30000"),
        pytest.param(3.000001, "30000.01", id="3.000001-wan-is-30000.01"),
        pytest.param(0.1, "1000", id="0.1-wan-is-1000"),
        pytest.param(0.100001, "1000.01", id="0.100001-wan-is-1000.01"),
        pytest.param(1e-06, "0.01", id="exponent-form"),
    ],
)
def test_amounts_convert_from_wan_yuan_exactly(wan_yuan: float, yuan: str) -> None:
    assert to_yuan(wan_yuan) == Decimal(yuan)


# ---------------------------------------------------------------- chongqing-amr: one penalty

COMPANY_CASES = [
    pytest.param(("罚款",), {"fine": 3}, "B", id="fine-exactly-30000-is-B"),
    pytest.param(("罚款",), {"fine": 3.000001}, "C", id="fine-30000.01-is-C"),
    pytest.param(("没收违法所得",), {"confiscated": 3}, "B", id="confiscated-gains-30000-is-B"),
    pytest.param(("没收违法所得",), {"confiscated": 3.000001}, "C", id="confiscated-gains-30000.01-is-C"),
    pytest.param(("没收非法财物",), {"confiscated": 3.000001}, "C", id="confiscated-property-30000.01-is-C"),
    pytest.param(("罚款", "没收违法所得"), {"fine": 2, "confiscated": 2}, "B", id="amounts-never-summed"),
    pytest.param(("警告",), {}, "B", id="warning-is-B"),
    pytest.param(("警告", "罚款"), {"fine": 5}, "C", id="warning-and-large-fine-is-C"),
    pytest.param(("通报批评",), {}, "B", id="unnamed-kind-通报批评-is-B"),
    pytest.param(("限制从业",), {}, "B", id="unnamed-kind-限制从业-is-B"),
    pytest.param(("暂扣许可证件",), {"licence": "食品经营许可证"}, "B", id="unnamed-kind-暂扣-is-B"),
    pytest.param(
        ("吊销许可证件",), {"licence": "食品经营许可证 JY150010100001"}, "B", id="revoking-another-licence-is-B"
    ),
    pytest.param(
        ("吊销许可证件",), {"licence": "营业执照（91500101MA5U7K3PXJ）"}, "D", id="revoking-business-licence-is-D"
    ),
    pytest.param(("责令停产停业",), {}, "D", id="停业整顿-is-D"),
    pytest.param(("责令关闭",), {}, "D", id="closure-is-D"),
    pytest.param(("罚款", "责令停产停业"), {"fine": 0.5}, "D", id="worst-kind-in-one-decision-wins"),
]


@pytest.mark.parametrize(("kinds", "amounts", "expected"), COMPANY_CASES)
def test_chongqing_grades_a_company_penalty(
    chongqing: RuleSetVersion, kinds: tuple[str, ...], amounts: dict[str, Any], expected: str
) -> None:
    result = grade([penalty("2026-03-16", *kinds, **amounts)], chongqing, "2026-06-30")
    assert result.grade == expected
    assert result.since == d("2026-03-16")


SHOP_CASES = [
    pytest.param(("罚款",), {"fine": 0.1}, "B", id="fine-exactly-1000-is-B"),
    pytest.param(("罚款",), {"fine": 0.100001}, "C", id="fine-1000.01-is-C"),
    pytest.param(("没收违法所得",), {"confiscated": 0.1}, "B", id="confiscated-1000-is-B"),
    pytest.param(("没收非法财物",), {"confiscated": 0.100001}, "C", id="confiscated-1000.01-is-C"),
    pytest.param(("罚款", "没收违法所得"), {"fine": 0.08, "confiscated": 0.08}, "B", id="amounts-never-summed"),
    pytest.param(("罚款",), {"fine": 2}, "C", id="company-B-amount-is-C-for-a-shop"),
    pytest.param(("警告",), {}, "B", id="warning-is-B"),
    pytest.param(("通报批评",), {}, "B", id="unnamed-kind-is-B"),
    pytest.param(("责令停产停业",), {}, "D", id="停业-is-D"),
    pytest.param(("吊销许可证件",), {"licence": "营业执照"}, "D", id="revoking-business-licence-is-D"),
    pytest.param(("责令关闭",), {}, "B", id="closure-not-named-for-shops-is-B"),
]


@pytest.mark.parametrize(("kinds", "amounts", "expected"), SHOP_CASES)
def test_chongqing_grades_an_individual_business_penalty(
    chongqing: RuleSetVersion, kinds: tuple[str, ...], amounts: dict[str, Any], expected: str
) -> None:
    records = [penalty("2026-03-16", *kinds, kind="individual_business", **amounts)]
    assert grade(records, chongqing, "2026-06-30", "individual_business").grade == expected


def test_chongqing_no_penalty_is_A_since_establishment(chongqing: RuleSetVersion) -> None:
    result = grade([registration("设立", "2025-09-01", established="2025-09-01")], chongqing, "2026-06-30")
    assert (result.grade, result.since, result.next_review) == ("A", d("2025-09-01"), None)
    assert "A 守信" in result.reason


def test_chongqing_without_any_record_is_A_with_unknown_since(chongqing: RuleSetVersion) -> None:
    result = grade([], chongqing, "2026-06-30")
    assert (result.grade, result.since, result.supervision_level) == ("A", None, None)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        pytest.param("2026-03-16", "B", id="one-year-later-same-day-still-counts"),
        pytest.param("2026-03-17", "A", id="older-than-one-year-is-A"),
        pytest.param("2025-03-15", "A", id="before-the-decision-is-A"),
        pytest.param("2025-03-16", "B", id="decision-day-counts"),
    ],
)
def test_chongqing_same_records_give_different_grades_by_as_of(
    chongqing: RuleSetVersion, as_of: str, expected: str
) -> None:
    assert grade([penalty("2025-03-16", "警告")], chongqing, as_of).grade == expected


@pytest.mark.parametrize(
    ("department", "kinds", "amounts", "expected"),
    [
        pytest.param("TAX", ("罚款",), {"fine": 100}, "A", id="tax-fine-does-not-count-for-C"),
        pytest.param("TAX", ("警告",), {}, "A", id="tax-warning-does-not-count-for-B"),
        pytest.param("HOUSING", ("责令停产停业",), {}, "D", id="housing-suspension-counts-for-D"),
        pytest.param("TAX", ("吊销许可证件",), {"licence": "营业执照"}, "D", id="any-department-revoking-licence-is-D"),
        pytest.param(
            "HOUSING", ("吊销许可证件",), {"licence": "建筑业企业资质证书"}, "A", id="other-dept-other-licence"
        ),
    ],
)
def test_chongqing_other_departments_count_only_for_D(
    chongqing: RuleSetVersion, department: str, kinds: tuple[str, ...], amounts: dict[str, Any], expected: str
) -> None:
    result = grade([penalty("2026-03-16", *kinds, department=department, **amounts)], chongqing, "2026-06-30")
    assert result.grade == expected
    assert [e.department for e in result.explanation] == [department]


# ---------------------------------------------------------------- chongqing-amr: repair and dating


def test_chongqing_C_is_repaired_the_day_after_one_year(chongqing: RuleSetVersion) -> None:
    records = [penalty("2026-01-10", "罚款", fine=5)]
    assert grade(records, chongqing, "2027-01-10").grade == "C"
    assert grade(records, chongqing, "2027-01-11").grade == "A"
    assert grade(records, chongqing, "2026-06-30").next_review == d("2027-01-11")


def test_chongqing_a_milder_penalty_restarts_the_repair_period(chongqing: RuleSetVersion) -> None:
    records = [penalty("2026-01-10", "罚款", fine=5), penalty("2026-06-01", "警告")]
    on_old_repair_day = grade(records, chongqing, "2027-01-11")
    assert (on_old_repair_day.grade, on_old_repair_day.since) == ("C", d("2026-06-01"))
    assert on_old_repair_day.next_review == d("2027-06-02")
    assert grade(records, chongqing, "2027-06-01").grade == "C"
    assert grade(records, chongqing, "2027-06-02").grade == "A"
    assert grade(records[:1], chongqing, "2027-01-11").grade == "A"


def test_chongqing_a_penalty_after_repair_starts_afresh(chongqing: RuleSetVersion) -> None:
    records = [penalty("2025-01-10", "罚款", fine=5), penalty("2026-02-01", "警告")]
    result = grade(records, chongqing, "2026-03-01")
    assert (result.grade, result.since) == ("B", d("2026-02-01"))


def test_chongqing_worst_grade_wins_dated_from_the_latest_qualifying_penalty(chongqing: RuleSetVersion) -> None:
    records = [penalty("2026-03-01", "警告"), penalty("2026-01-10", "罚款", fine=4), penalty("2026-05-20", "警告")]
    result = grade(records, chongqing, "2026-06-30")
    assert (result.grade, result.since) == ("C", d("2026-05-20"))
    assert {e.record_id for e in result.explanation} == {r.record_id for r in records}


def test_chongqing_D_from_suspension_is_repaired_one_year_after_business_resumes(chongqing: RuleSetVersion) -> None:
    records = [penalty("2026-02-01", "责令停产停业"), registration("恢复营业", "2026-04-01")]
    before_resuming = grade(records, chongqing, "2026-03-01")
    assert (before_resuming.grade, before_resuming.next_review) == ("D", None)
    resumed = grade(records, chongqing, "2026-06-30")
    assert (resumed.grade, resumed.since, resumed.next_review) == ("D", d("2026-02-01"), d("2027-04-02"))
    assert grade(records, chongqing, "2027-04-01").grade == "D"
    assert grade(records, chongqing, "2027-04-02").grade == "A"


def test_chongqing_D_of_a_shop_ordered_to_suspend_is_repaired_after_resuming(chongqing: RuleSetVersion) -> None:
    kind = "individual_business"
    records = [penalty("2026-02-01", "责令停产停业", kind=kind), registration("恢复营业", "2026-03-01", kind=kind)]
    assert grade(records, chongqing, "2027-03-01", kind).grade == "D"
    assert grade(records, chongqing, "2027-03-02", kind).grade == "A"


def test_chongqing_one_resumption_repairs_every_earlier_suspension_once(chongqing: RuleSetVersion) -> None:
    records = [penalty("2026-02-01", "责令停产停业"), penalty("2026-02-20", "责令停产停业", department="HOUSING")]
    records.append(registration("恢复营业", "2026-04-01"))
    result = grade(records, chongqing, "2026-06-30")
    assert (result.grade, result.since, result.next_review) == ("D", d("2026-02-20"), d("2027-04-02"))
    resumption_notes = [e for e in result.explanation if "恢复营业" in e.rule]
    assert len(resumption_notes) == 1  # once, though it repairs both
    assert len(result.explanation) == len(set(result.explanation)) == 4  # two penalties, resumption, level


def test_chongqing_repaired_D_leaves_a_later_milder_grade_running(chongqing: RuleSetVersion) -> None:
    records = [penalty("2026-02-01", "责令停产停业"), registration("恢复营业", "2026-03-01")]
    records.append(penalty("2027-02-15", "警告"))
    result = grade(records, chongqing, "2027-03-02")
    assert (result.grade, result.since, result.next_review) == ("B", d("2027-02-15"), d("2028-02-16"))


@pytest.mark.parametrize(
    ("kinds", "licence"),
    [
        pytest.param(("吊销许可证件",), "营业执照", id="business-licence-revoked"),
        pytest.param(("责令关闭",), None, id="closed"),
    ],
)
def test_chongqing_D_from_revocation_or_closure_is_never_repaired(
    chongqing: RuleSetVersion, kinds: tuple[str, ...], licence: str | None
) -> None:
    records = [penalty("2026-02-01", *kinds, licence=licence), registration("恢复营业", "2026-03-01")]
    result = grade(records, chongqing, "2035-06-30")
    assert (result.grade, result.next_review, result.since) == ("D", None, d("2026-02-01"))
    assert "不可修复" in result.explanation[0].effect


def test_chongqing_ignores_penalties_decided_after_as_of(chongqing: RuleSetVersion) -> None:
    assert grade([penalty("2026-07-01", "罚款", fine=10)], chongqing, "2026-06-30").grade == "A"


# ---------------------------------------------------------------- amendments


def test_a_revoked_penalty_no_longer_counts(chongqing: RuleSetVersion, benxi: RuleSetVersion) -> None:
    fine = penalty("2026-03-16", "罚款", fine=5)
    records = [fine, revocation(fine, "2026-05-01")]
    assert grade(records, chongqing, "2026-06-30").grade == "A"
    assert grade(records, chongqing, "2026-04-01").grade == "A"  # as if it never existed
    assert grade(records, benxi, "2026-06-30").grade == "B"


@pytest.mark.parametrize(
    ("reported", "corrected", "expected"),
    [
        pytest.param(5, 2, "B", id="corrected-down-to-B"),
        pytest.param(2, 3.000001, "C", id="corrected-up-to-C"),
    ],
)
def test_a_corrected_penalty_counts_with_its_corrected_amount(
    chongqing: RuleSetVersion, reported: float, corrected: float, expected: str
) -> None:
    fine = penalty("2026-03-16", "罚款", fine=reported)
    result = grade([fine, correction(fine, "2026-05-01", CF_NR_FK=corrected)], chongqing, "2026-06-30")
    assert result.grade == expected
    assert "已更正" in result.explanation[0].rule


def test_a_correction_can_move_the_decision_date(chongqing: RuleSetVersion) -> None:
    fine = penalty("2025-03-16", "罚款", fine=5)
    records = [fine, correction(fine, "2026-05-01", CF_JDRQ="2025-08-01")]
    assert grade(records, chongqing, "2026-06-30").grade == "C"
    assert grade([fine], chongqing, "2026-06-30").grade == "A"


# ---------------------------------------------------------------- chongqing-amr: supervision levels


@pytest.mark.parametrize(
    ("grading_penalty", "industry", "region", "level"),
    [
        pytest.param(None, "一般行业", "一般监管区域", "I", id="A-general-general-is-I"),
        pytest.param(None, "公众聚集场所", "一般监管区域", "II", id="A-public-gathering-is-II"),
        pytest.param(None, "热点行业", "一般监管区域", "II", id="A-hot-industry-is-II"),
        pytest.param(None, "高危行业", "一般监管区域", "III", id="A-high-risk-is-III"),
        pytest.param(None, "一般行业", "重点监管区域", "III", id="A-key-region-is-III"),
        pytest.param(("警告",), "一般行业", "一般监管区域", "II", id="B-general-is-II"),
        pytest.param(("警告",), "热点行业", "一般监管区域", "II", id="B-hot-industry-is-II"),
        pytest.param(("警告",), "高危行业", "一般监管区域", "III", id="B-high-risk-is-III"),
        pytest.param(("警告",), "公众聚集场所", "重点监管区域", "III", id="B-key-region-is-III"),
        pytest.param(("责令关闭",), "一般行业", "一般监管区域", "IV", id="D-general-is-IV"),
        pytest.param(("责令关闭",), "高危行业", "重点监管区域", "IV", id="D-high-risk-key-region-is-IV"),
    ],
)
def test_chongqing_supervision_level_from_grade_industry_and_region(
    chongqing: RuleSetVersion, grading_penalty: tuple[str, ...] | None, industry: str, region: str, level: str
) -> None:
    records = [registration("设立", "2020-01-01", established="2020-01-01", industry=industry, region=region)]
    if grading_penalty:
        records.append(penalty("2026-03-16", *grading_penalty))
    assert grade(records, chongqing, "2026-06-30").supervision_level == level


def test_chongqing_C_is_level_III_in_every_industry_and_region(chongqing: RuleSetVersion) -> None:
    for industry, region in itertools.product(INDUSTRY_RISKS, REGION_CLASSES):
        records = [registration("设立", "2020-01-01", industry=industry, region=region)]
        records.append(penalty("2026-03-16", "罚款", fine=5))
        assert grade(records, chongqing, "2026-06-30").supervision_level == "III", (industry, region)


def test_chongqing_level_table_transcribes_articles_28_to_35(chongqing: RuleSetVersion) -> None:
    # 000 L257-L286: Ⅰ all of A/一般行业/一般监管区域; Ⅱ a non-high-risk B, 公众聚集场所 or 热点行业;
    # Ⅲ any of C/高危行业/重点监管区域; Ⅳ D; the highest that applies wins.
    rules = chongqing.rules
    assert isinstance(rules, ChongqingRules)
    for g, industry, region in itertools.product(GRADES, INDUSTRY_RISKS, REGION_CLASSES):
        applies = {"I": g == "A" and industry == "一般行业" and region == "一般监管区域"}
        applies["II"] = industry != "高危行业" and (g == "B" or industry in ("公众聚集场所", "热点行业"))
        applies["III"] = g == "C" or industry == "高危行业" or region == "重点监管区域"
        applies["IV"] = g == "D"
        expected = max((lvl for lvl, ok in applies.items() if ok), key=LEVELS.index)
        assert rules.supervision_levels[(g, industry, region)] == expected, (g, industry, region)


@pytest.mark.parametrize(
    ("kinds", "level"),
    [
        pytest.param(("责令关闭",), "IV", id="D-needs-no-registration"),
        pytest.param(("罚款",), "III", id="C-needs-no-registration"),
        pytest.param(("警告",), None, id="B-unknown-without-registration"),
    ],
)
def test_chongqing_level_without_registration_only_when_the_grade_decides_it(
    chongqing: RuleSetVersion, kinds: tuple[str, ...], level: str | None
) -> None:
    fine = 5 if "罚款" in kinds else None
    assert grade([penalty("2026-03-16", *kinds, fine=fine)], chongqing, "2026-06-30").supervision_level == level


def test_chongqing_deregistered_subject_keeps_its_grade_but_has_no_level(chongqing: RuleSetVersion) -> None:
    records = [registration("设立", "2020-01-01"), penalty("2026-03-16", "警告"), registration("注销", "2026-05-01")]
    result = grade(records, chongqing, "2026-06-30")
    assert (result.grade, result.supervision_level) == ("B", None)
    assert "注销" in result.reason


def test_chongqing_level_follows_the_latest_registration(chongqing: RuleSetVersion) -> None:
    records = [registration("设立", "2020-01-01"), registration("变更", "2026-04-01", industry="高危行业")]
    assert grade(records, chongqing, "2026-03-31").supervision_level == "I"
    assert grade(records, chongqing, "2026-06-30").supervision_level == "III"


def level_raise(day: str, level: str) -> AcceptedRecord:
    data = {"raised_level": level, "reason": "辖区重点监控", "authority": "示范县市场监督管理局",
            "authority_uscc": "11500101MB15070149", "decision_date": day}  # fmt: skip
    return _record("supervision_level_raise", data, department="AMR")


def test_chongqing_a_district_raises_the_level_and_never_lowers_it(chongqing: RuleSetVersion) -> None:
    # 000 L295 (issue 22): the stricter of the table's level and a raise decided by then.
    records = [registration("设立", "2020-01-01"), level_raise("2026-05-01", "III")]
    assert grade(records, chongqing, "2026-04-30").supervision_level == "I"
    raised = grade(records, chongqing, "2026-06-30")
    assert raised.supervision_level == "III"
    assert any("提高监管等级" in e.rule for e in raised.explanation)
    lower = [registration("设立", "2020-01-01", industry="高危行业"), level_raise("2026-05-01", "II")]
    assert grade(lower, chongqing, "2026-06-30").supervision_level == "III"


# ---------------------------------------------------------------- benxi-2017

BENXI_CASES = [
    pytest.param([], "B", id="no-record-is-B"),
    pytest.param([reward("2026-03-01")], "A", id="administrative-reward-is-A"),
    pytest.param([reward("2025-03-01")], "B", id="reward-older-than-one-year-is-B"),
    pytest.param([red_list("列入", "2024-01-05")], "A", id="red-list-in-force-is-A"),
    pytest.param([red_list("列入", "2024-01-05"), red_list("移出", "2026-01-05")], "B", id="red-list-removed-is-B"),
    pytest.param([red_list("列入", "2024-01-05", valid_until="2025-12-31")], "B", id="red-list-expired-is-B"),
    pytest.param([reward("2026-03-01"), penalty("2026-04-01", "罚款", fine=20)], "C", id="reward-and-penalty-is-C"),
    pytest.param([penalty("2026-04-01", "罚款", fine=20, department="TAX")], "C", id="any-department-penalty-is-C"),
    pytest.param([reward("2026-03-01"), penalty("2026-04-01", "警告")], "B", id="reward-and-warning-is-B"),
    pytest.param([penalty("2025-04-01", "罚款", fine=50)], "B", id="penalty-older-than-one-year-is-B"),
    pytest.param([abnormal("列入", "2024-05-01")], "C", id="abnormal-operation-listing-in-force-is-C"),
    pytest.param([abnormal("列入", "2024-05-01"), abnormal("移出", "2025-05-01")], "B", id="abnormal-listing-removed"),
    pytest.param([defaulter("列入", "2026-02-01")], "C", id="judgment-defaulter-is-C"),
    pytest.param([defaulter("列入", "2026-02-01"), defaulter("撤销", "2026-03-01")], "B", id="defaulter-cancelled"),
    pytest.param(
        [broken_commitment("2026-02-01", document_no="示市监诺〔2026〕1号")], "C", id="broken-commitment-is-C"
    ),
    pytest.param([serious_listing("拟列入告知", "2026-02-01")], "B", id="prior-notice-is-not-a-listing"),
    pytest.param([serious_listing("认定", "2026-02-01")], "C", id="serious-listing-without-impact-is-C"),
    pytest.param([serious_listing("认定", "2026-02-01", impact=True)], "D", id="serious-listing-with-impact-is-D"),
    pytest.param(
        [serious_listing("认定", "2026-02-01", impact=True), serious_listing("移出", "2026-05-01")], "B", id="removed"
    ),
    pytest.param([serious_listing("认定", "2026-02-01", impact=True), reward("2026-03-01")], "D", id="D-outweighs-A"),
]


@pytest.mark.parametrize(("records", "expected"), BENXI_CASES)
def test_benxi_grades_a_company(benxi: RuleSetVersion, records: list[AcceptedRecord], expected: str) -> None:
    result = grade(records, benxi, "2026-06-30")
    assert result.grade == expected
    assert result.supervision_level is None
    assert all(e.record_id in {r.record_id for r in records} for e in result.explanation)


def test_benxi_reward_expires_the_day_after_one_year(benxi: RuleSetVersion) -> None:
    records = [registration("设立", "2019-07-02"), reward("2026-03-01")]
    result = grade(records, benxi, "2026-06-30")
    assert (result.grade, result.since, result.next_review) == ("A", d("2026-03-01"), d("2027-03-02"))
    assert grade(records, benxi, "2027-03-01").grade == "A"
    assert grade(records, benxi, "2027-03-02").grade == "B"


def test_benxi_C_dates_from_the_adverse_record_and_ends_with_it(benxi: RuleSetVersion) -> None:
    records = [reward("2026-03-01"), penalty("2026-04-01", "罚款", fine=20)]
    result = grade(records, benxi, "2026-06-30")
    assert (result.grade, result.since, result.next_review) == ("C", d("2026-04-01"), d("2027-04-02"))
    assert grade(records, benxi, "2027-04-02").grade == "B"  # the reward expired a month earlier


def test_benxi_D_lasts_until_removal_from_the_list(benxi: RuleSetVersion) -> None:
    records = [serious_listing("认定", "2026-02-01", impact=True)]
    result = grade(records, benxi, "2030-01-01")
    assert (result.grade, result.since, result.next_review) == ("D", d("2026-02-01"), None)


def test_benxi_does_not_grade_individual_businesses(benxi: RuleSetVersion) -> None:
    result = grade(
        [penalty("2026-03-16", "警告", kind="individual_business")], benxi, "2026-06-30", "individual_business"
    )
    assert result.grade is None
    assert (
        result.reason
        == "规则集 benxi-2017 不对个体工商户分级 (rule set benxi-2017 does not grade individual businesses)"
    )


# ---------------------------------------------------------------- both rule sets


@pytest.mark.parametrize("rule_set_id", ["chongqing-amr", "benxi-2017"])
def test_natural_persons_are_not_graded(rule_sets: RuleSets, rule_set_id: str) -> None:
    rule_set = rule_set_version_for(rule_sets, rule_set_id, d("2026-06-30"))
    result = evaluate([], rule_set, d("2026-06-30"), subject_kind="natural_person")
    assert (result.grade, result.since, result.next_review, result.supervision_level) == (None, None, None, None)
    assert (
        result.reason == f"规则集 {rule_set_id} 不对自然人分级 (rule set {rule_set_id} does not grade natural persons)"
    )


def test_an_unknown_subject_kind_is_refused(chongqing: RuleSetVersion) -> None:
    with pytest.raises(ValueError, match="unknown subject kind"):
        evaluate([], chongqing, d("2026-06-30"), subject_kind="robot")


REVIEW_SCENARIOS = [
    pytest.param("chongqing-amr", [penalty("2026-01-10", "罚款", fine=5)], id="C-repair"),
    pytest.param("chongqing-amr", [penalty("2026-01-10", "罚款", fine=5), penalty("2026-06-01", "警告")], id="restart"),
    pytest.param(
        "chongqing-amr", [penalty("2026-02-01", "责令停产停业"), registration("恢复营业", "2026-04-01")], id="D-repair"
    ),
    pytest.param("chongqing-amr", [penalty("2026-05-01", "通报批评"), penalty("2025-09-01", "警告")], id="B-chain"),
    pytest.param("benxi-2017", [reward("2026-03-01")], id="benxi-A-expires"),
    pytest.param("benxi-2017", [reward("2026-03-01"), penalty("2026-04-01", "罚款", fine=20)], id="benxi-C-expires"),
    pytest.param("benxi-2017", [red_list("列入", "2026-01-05", valid_until="2026-12-31")], id="benxi-red-list-ends"),
]


@pytest.mark.parametrize(("rule_set_id", "records"), REVIEW_SCENARIOS)
def test_next_review_is_the_day_the_grade_changes(
    rule_sets: RuleSets, rule_set_id: str, records: list[AcceptedRecord]
) -> None:
    rule_set = rule_set_version_for(rule_sets, rule_set_id, d("2026-06-30"))
    today = grade(records, rule_set, "2026-06-30")
    assert today.next_review is not None
    the_day_before = grade(records, rule_set, str(today.next_review - timedelta(days=1)))
    assert the_day_before.grade == today.grade
    assert grade(records, rule_set, str(today.next_review)).grade != today.grade


# ---------------------------------------------------------------- order independence (property)

_KIND_CHOICES = [("警告",), ("罚款",), ("罚款", "没收违法所得"), ("通报批评",), ("责令停产停业",), ("责令关闭",)]
_KIND_CHOICES += [("吊销许可证件",)]


@st.composite
def random_records(draw: st.DrawFn) -> list[AcceptedRecord]:
    """Penalties (some revoked), registrations, a reward and a serious listing, on dates around as_of."""
    start = date(2025, 1, 1)
    records: list[AcceptedRecord] = []
    for i in range(draw(st.integers(0, 6))):
        kinds = draw(st.sampled_from(_KIND_CHOICES))
        decided = str(start + timedelta(days=draw(st.integers(0, 700))))
        fine = draw(st.sampled_from([0.1, 3, 3.000001, 12])) if "罚款" in kinds else None
        confiscated = 2 if "没收违法所得" in kinds else None
        licence = draw(st.sampled_from(["营业执照", "食品经营许可证"])) if "吊销许可证件" in kinds else None
        department = draw(st.sampled_from(["AMR", "AMR", "TAX"]))
        records.append(
            penalty(decided, *kinds, fine=fine, confiscated=confiscated, licence=licence, department=department)
        )
        if draw(st.booleans()) and i == 0:
            records.append(revocation(records[0], str(start + timedelta(days=draw(st.integers(0, 700))))))
    for event in draw(st.lists(st.sampled_from(["设立", "恢复营业", "停业"]), max_size=3)):
        records.append(registration(event, str(start + timedelta(days=draw(st.integers(0, 700))))))
    if draw(st.booleans()):
        records.append(reward(str(start + timedelta(days=draw(st.integers(0, 700))))))
    if draw(st.booleans()):
        records.append(serious_listing("认定", str(start + timedelta(days=draw(st.integers(0, 700)))), impact=True))
    return records


@settings(max_examples=60, deadline=None, database=None)
@given(data=st.data())
def test_the_grade_does_not_depend_on_the_order_of_the_records(rule_sets: RuleSets, data: st.DataObject) -> None:
    records = data.draw(random_records())
    shuffled = data.draw(st.permutations(records))
    as_of = date(2025, 1, 1) + timedelta(days=data.draw(st.integers(0, 900)))
    for rule_set_id in ("chongqing-amr", "benxi-2017"):
        rule_set = rule_set_version_for(rule_sets, rule_set_id, as_of)
        first = evaluate(records, rule_set, as_of, subject_kind="legal_person")
        assert evaluate(shuffled, rule_set, as_of, subject_kind="legal_person") == first
        assert evaluate(list(reversed(records)), rule_set, as_of, subject_kind="legal_person") == first


# ---------------------------------------------------------------- loading and versions


def test_rule_sets_and_the_jurisdiction_load(rule_sets: RuleSets) -> None:
    assert set(rule_sets) >= {"chongqing-amr", "benxi-2017"}
    jurisdiction = load_jurisdiction(SCHEMAS / "jurisdiction.yaml", rule_sets)
    assert (jurisdiction.grading_rule_set, jurisdiction.service_levels.reporting_days) == ("chongqing-amr", 7)
    assert jurisdiction.service_levels.objection_verification_working_days == 20
    benxi = rule_set_version_for(rule_sets, "benxi-2017", d("2026-06-30"))
    assert {c.matter for c in benxi.consequences["C"] if c.effect == "prohibit"} >= {"public_tender", "fiscal_subsidy"}


def test_the_version_in_force_on_the_as_of_date_is_used(tmp_path: Path) -> None:
    raw = yaml.safe_load((SCHEMAS / "rulesets/grading/chongqing-amr.yaml").read_text("utf-8"))
    second = json.loads(json.dumps(raw["versions"][0], default=str))
    second |= {"version": 2, "effective_from": date(2027, 1, 1)}
    second["rules"]["thresholds_yuan"]["legal_person"] = "50000"
    raw["versions"].append(second)
    path = tmp_path / "chongqing-amr.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    rule_sets = {"chongqing-amr": load_rule_set(path)}
    records = [penalty("2026-12-01", "罚款", fine=4)]
    old = rule_set_version_for(rule_sets, "chongqing-amr", d("2026-12-31"))
    new = rule_set_version_for(rule_sets, "chongqing-amr", d("2027-01-01"))
    assert (old.version, new.version) == (1, 2)
    assert grade(records, old, "2027-01-01").grade == "C"
    assert grade(records, new, "2027-01-01").grade == "B"


def test_unknown_rule_sets_and_dates_before_the_first_version_are_refused(rule_sets: RuleSets) -> None:
    with pytest.raises(RuleSetLookupError, match="unknown grading rule set"):
        rule_set_version_for(rule_sets, "shanghai", d("2026-06-30"))
    with pytest.raises(RuleSetLookupError, match="not in force on 2017-07-09"):
        rule_set_version_for(rule_sets, "benxi-2017", d("2017-07-09"))


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        pytest.param(
            '        individual_business: "1000"\n', "", "thresholds_yuan.individual_business", id="missing-key"
        ),
        pytest.param(
            'legal_person: "30000"', "legal_person: 30000.5", "thresholds_yuan.legal_person", id="float-amount"
        ),
        pytest.param("repair_years: 1", "repair_years: 1\n      extra: 1", "rules.extra", id="unknown-key"),
        pytest.param(
            "[I, II, II, III]", "[I, II, II, V]", "supervision_levels.rows.A 一般监管区域", id="unknown-level"
        ),
        pytest.param("kind: 责令关闭,", "kind: 关门,", "serious_penalties.legal_person[1].kind", id="unknown-kind"),
        pytest.param(
            "effect: removes_record_except_never_repairable",
            "effect: forgets_everything",
            "versions[0].national_repair.effect",
            id="unknown-repair-effect",
        ),
    ],
)
def test_a_broken_rule_set_names_the_file_and_the_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    text = (SCHEMAS / "rulesets/grading/chongqing-amr.yaml").read_text("utf-8")
    assert old in text
    path = tmp_path / "chongqing-amr.yaml"
    path.write_text(text.replace(old, new, 1), "utf-8")
    with pytest.raises(RuleSetError) as caught:
        load_rule_set(path)
    assert str(path) in str(caught.value)
    assert f"versions[0].rules.{key}" in str(caught.value) or key in str(caught.value)


def test_a_benxi_rule_set_without_its_severity_table_names_the_key(tmp_path: Path) -> None:
    # benxi's light penalties are the shared severity table's 轻微: the rule set cannot load without it.
    text = (SCHEMAS / "rulesets/grading/benxi-2017.yaml").read_text("utf-8")
    path = tmp_path / "benxi-2017.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(RuleSetError, match=r"versions\[0\]\.rules\.light\.severity_table"):
        load_rule_set(path)


def test_a_jurisdiction_naming_an_unknown_rule_set_is_refused(tmp_path: Path, rule_sets: RuleSets) -> None:
    text = (
        (SCHEMAS / "jurisdiction.yaml")
        .read_text("utf-8")
        .replace("grading_rule_set: chongqing-amr", "grading_rule_set: x")
    )
    path = tmp_path / "jurisdiction.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(RuleSetError, match="grading_rule_set"):
        load_jurisdiction(path, rule_sets)


def test_penalty_kinds_match_the_national_schema() -> None:
    schema = json.loads((SCHEMAS / "records/administrative_penalty/v1.json").read_text("utf-8"))
    assert tuple(schema["properties"]["CF_CFLB"]["items"]["enum"]) == PENALTY_KINDS


def test_factory_records_are_valid_for_their_schemas() -> None:
    fine = penalty("2026-03-16", "罚款", "吊销许可证件", fine=3, licence="营业执照")
    samples = [fine, correction(fine, "2026-04-01", CF_NR_FK=2), revocation(fine, "2026-04-01"), reward("2026-03-01")]
    samples += [registration("变更", "2026-01-12"), registration("恢复营业", "2026-01-12", kind="individual_business")]
    samples += [red_list("列入", "2026-01-05", valid_until="2026-12-31"), red_list("移出", "2026-02-05")]
    samples += [serious_listing(stage, "2026-02-01", impact=True) for stage in ("拟列入告知", "认定", "移出")]
    samples += [abnormal("列入", "2026-01-01"), abnormal("移出", "2026-02-01"), broken_commitment("2026-02-01")]
    samples += [defaulter("列入", "2026-02-01"), defaulter("撤销", "2026-03-01")]
    samples += [watch("列入", "2026-02-01", document_no=None), watch("移出", "2026-03-01"), repair(fine, "2026-05-01")]
    samples += [penalty("2026-03-16", "没收非法财物", confiscated=0.1, kind="individual_business")]
    for record in samples:
        schema = json.loads((SCHEMAS / f"records/{record.record_type}/v1.json").read_text("utf-8"))
        validator = jsonschema_rs.validator_for(schema, validate_formats=True)
        errors = [e.message for e in validator.iter_errors(record.data)]
        assert not errors, (record.record_type, errors)


# ---------------------------------------------------------------- issue 15: light records (benxi)


def test_warning_alone_does_not_make_benxi_c(benxi: RuleSetVersion) -> None:
    result = grade([penalty("2026-04-01", "警告")], benxi, "2026-06-30")
    assert result.grade == "B"
    assert "轻微" in result.reason
    (item,) = result.explanation
    assert "轻微" in item.rule
    assert "49号" in item.rule
    assert item.effect.startswith("B")


def test_light_penalty_is_the_shared_severity_rule(benxi: RuleSetVersion) -> None:
    # 轻微 is publish's tier: a company fine below 较大数额 (10 万元) is light, from it on it is 一般 (C).
    assert grade([penalty("2026-04-01", "罚款", fine=9.99)], benxi, "2026-06-30").grade == "B"
    assert grade([penalty("2026-04-01", "罚款", fine=10)], benxi, "2026-06-30").grade == "C"
    assert grade([penalty("2026-04-01", "警告", "没收违法所得", confiscated=0.1)], benxi, "2026-06-30").grade == "C"


def test_watch_list_entry_does_not_make_benxi_c(benxi: RuleSetVersion) -> None:
    result = grade([watch("列入", "2026-02-01")], benxi, "2026-06-30")
    assert result.grade == "B"
    assert "001 L619" in result.explanation[0].rule


def test_light_record_bars_a(benxi: RuleSetVersion) -> None:
    records = [reward("2026-03-01"), watch("列入", "2026-02-01")]
    result = grade(records, benxi, "2026-06-30")
    assert result.grade == "B"
    assert grade([*records, watch("移出", "2026-05-01")], benxi, "2026-06-30").grade == "A"


def test_light_record_beside_a_heavy_one_is_c(benxi: RuleSetVersion) -> None:
    records = [penalty("2026-04-01", "警告"), penalty("2026-04-02", "罚款", fine=20)]
    assert grade(records, benxi, "2026-06-30").grade == "C"


# ---------------------------------------------------------------- issue 15: documents (001 L646)


def test_watch_list_entry_without_document_does_not_count_against_the_subject(benxi: RuleSetVersion) -> None:
    records = [reward("2026-03-01"), watch("列入", "2026-02-01", document_no=None)]
    result = grade(records, benxi, "2026-06-30")
    assert result.grade == "A"
    (note,) = [e for e in result.explanation if e.record_id == records[1].record_id]
    assert "001 L646" in note.rule
    assert note.effect.startswith("不计入")


def test_broken_commitment_without_document_does_not_count_against_the_subject(benxi: RuleSetVersion) -> None:
    undocumented = broken_commitment("2026-02-01")
    assert grade([undocumented], benxi, "2026-06-30").grade == "B"
    assert "001 L646" in grade([undocumented], benxi, "2026-06-30").explanation[0].rule
    documented = broken_commitment("2026-02-01", document_no="示市监诺〔2026〕1号")
    assert grade([documented], benxi, "2026-06-30").grade == "C"


# ---------------------------------------------------------------- issue 15: licences (chongqing D)


@pytest.mark.parametrize(
    ("kinds", "text", "expected"),
    [
        pytest.param(
            ("暂扣许可证件", "吊销许可证件"), "暂扣营业执照三个月；吊销食品经营许可证", "B", id="suspended-bl"
        ),
        pytest.param(
            ("暂扣许可证件", "吊销许可证件"), "吊销食品经营许可证，暂扣营业执照三个月", "B", id="revoked-other"
        ),
        pytest.param(("暂扣许可证件", "吊销许可证件"), "暂扣营业执照并吊销食品经营许可证", "B", id="one-item"),
        pytest.param(("暂扣许可证件", "吊销许可证件"), "暂扣食品经营许可证；吊销营业执照", "D", id="revoked-bl"),
        pytest.param(("暂扣许可证件", "吊销许可证件"), "食品经营许可证暂扣；营业执照被吊销", "D", id="verb-after"),
        pytest.param(("暂扣许可证件", "吊销许可证件"), "营业执照；食品经营许可证", "B", id="unknown-verb"),
        pytest.param(("吊销许可证件",), "营业执照（91500101MA5U7K3PXJ）", "D", id="only-revocation-named"),
        pytest.param(("吊销许可证件",), "吊销食品经营许可证、营业执照", "D", id="listed-after-one-verb"),
        pytest.param(("暂扣许可证件",), "营业执照", "B", id="only-suspension-named"),
    ],
)
def test_suspended_business_licence_is_not_d(
    chongqing: RuleSetVersion, kinds: tuple[str, ...], text: str, expected: str
) -> None:
    assert grade([penalty("2026-03-16", *kinds, licence=text)], chongqing, "2026-06-30").grade == expected


def test_suspended_business_licence_is_not_d_in_v2(chongqing: RuleSetVersion) -> None:
    suspended = [{"action": "暂扣", "kind": "营业执照", "name": "营业执照"}]
    suspended += [{"action": "吊销", "kind": "许可证件", "name": "食品经营许可证", "number": "JY150010100001"}]
    # The free text would say otherwise: v2's structured list decides.
    common = {"licence": "吊销营业执照", "version": 2}
    record = penalty("2026-03-16", "暂扣许可证件", "吊销许可证件", licence_actions=suspended, **common)
    assert grade([record], chongqing, "2026-06-30").grade == "B"
    revoked = [{"action": "吊销", "kind": "营业执照", "name": "营业执照"}]
    record = penalty("2026-03-16", "吊销许可证件", licence_actions=revoked, licence="营业执照", version=2)
    assert grade([record], chongqing, "2026-06-30").grade == "D"


# ---------------------------------------------------------------- issue 15: confiscations (chongqing)


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        pytest.param(5, "B", id="2.5-plus-2.5-wan-is-B"),
        pytest.param(6, "B", id="half-of-6-wan-is-exactly-the-threshold"),
        pytest.param(6.000002, "C", id="half-above-the-threshold-is-C"),
    ],
)
def test_confiscations_are_not_summed_in_v1(chongqing: RuleSetVersion, total: float, expected: str) -> None:
    record = penalty("2026-03-16", "没收违法所得", "没收非法财物", confiscated=total)
    result = grade([record], chongqing, "2026-06-30")
    assert result.grade == expected
    assert all("一半" in e.rule for e in result.explanation)


def test_one_confiscation_in_v1_is_the_whole_total(chongqing: RuleSetVersion) -> None:
    assert grade([penalty("2026-03-16", "没收违法所得", confiscated=5)], chongqing, "2026-06-30").grade == "C"


def test_confiscations_are_not_summed_in_v2(chongqing: RuleSetVersion) -> None:
    kinds = ("没收违法所得", "没收非法财物")
    apart = penalty("2026-03-16", *kinds, confiscated=5, version=2, confiscated_gains=2.5, confiscated_property=2.5)
    assert grade([apart], chongqing, "2026-06-30").grade == "B"
    uneven = penalty("2026-03-16", *kinds, confiscated=5, version=2, confiscated_gains=4, confiscated_property=1)
    result = grade([uneven], chongqing, "2026-06-30")
    assert result.grade == "C"
    assert not any("一半" in e.rule for e in result.explanation)


# ---------------------------------------------------------------- issue 15: national repair


@pytest.mark.parametrize(
    ("kinds", "licence"),
    [
        pytest.param(("吊销许可证件",), "吊销营业执照", id="business-licence-revoked"),
        pytest.param(("责令关闭",), None, id="closed"),
    ],
)
def test_never_repairable_d_stays_d_after_repair(
    chongqing: RuleSetVersion, kinds: tuple[str, ...], licence: str | None
) -> None:
    revoked = penalty("2026-02-01", *kinds, licence=licence)
    records = [registration("设立", "2020-01-01"), revoked, repair(revoked, "2026-05-01")]
    result = grade(records, chongqing, "2026-06-30")
    assert (result.grade, result.supervision_level, result.next_review) == ("D", "IV", None)
    assert "信用修复不改变" in next(e.effect for e in result.explanation if e.record_id == revoked.record_id)


def test_repair_still_lifts_a_repairable_chongqing_grade(chongqing: RuleSetVersion) -> None:
    fined = penalty("2026-02-01", "罚款", fine=5)
    suspended = penalty("2026-02-01", "责令停产停业")
    records = [fined, suspended, repair(fined, "2026-05-01"), repair(suspended, "2026-05-01")]
    assert grade(records, chongqing, "2026-06-30").grade == "A"


def test_non_repairable_penalty_keeps_its_grade_after_repair(chongqing: RuleSetVersion, benxi: RuleSetVersion) -> None:
    marked = {"non_repairable": True, "non_repairable_basis": "527号文 特定严重失信", "version": 2}
    fined = penalty("2026-02-01", "罚款", fine=20, **marked)
    records = [fined, repair(fined, "2026-05-01")]
    assert grade(records, chongqing, "2026-06-30").grade == "C"
    assert grade(records, benxi, "2026-06-30").grade == "C"
    plain = penalty("2026-02-01", "罚款", fine=20)
    assert grade([plain, repair(plain, "2026-05-01")], chongqing, "2026-06-30").grade == "A"


def test_each_rule_set_states_what_a_national_repair_does(rule_sets: RuleSets) -> None:
    effects = {key: rule_set_version_for(rule_sets, key, d("2026-06-30")).national_repair for key in rule_sets}
    assert effects["chongqing-amr"].keeps_never_repairable
    assert "000 L196" in effects["chongqing-amr"].source
    assert effects["benxi-2017"].removes_record
    assert not effects["benxi-2017"].keeps_never_repairable
