"""Ingest's domain rules beyond the schema (issue 15): pure functions of one record, no I/O, no clock.

Each returns the problems it finds, each with the JSON pointer of the value concerned and a message in
Chinese for the department's clerk (English after it for the engineer). Errors refuse the record (422);
warnings go on the receipt and the record is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Protocol

from services.common.catalogue import Department, RecordType
from services.common.errors import ApiError
from services.common.legal_document import lacks_legal_document
from services.common.repairs import REPAIRABLE_TYPES
from services.common.vocabulary import RecordTypeName

Problem = ApiError

CORRECTION_TYPES = frozenset({RecordTypeName.RECORD_CORRECTION, RecordTypeName.RECORD_REVOCATION})
TARGETED_TYPES = CORRECTION_TYPES | {RecordTypeName.REPAIR_DECISION}
"""Records that act on an earlier record of the same department (`data.target_record_id`)."""
PENALTY = RecordTypeName.ADMINISTRATIVE_PENALTY
WATCH_LIST = RecordTypeName.WATCH_LIST
SERIOUS_LISTING = RecordTypeName.SERIOUS_UNTRUSTWORTHY_LISTING
GAINS, PROPERTY = "没收违法所得", "没收非法财物"
CONFISCATION_SPLIT = {GAINS: "confiscated_gains", PROPERTY: "confiscated_property"}
"""v2 penalty: the amount field of each confiscation kind of 处罚类别 (000 L184-L188: never summed)."""
LICENCE_CATEGORY = {"暂扣": "暂扣许可证件", "吊销": "吊销许可证件"}
NOTICE, LISTING = "拟列入告知", "认定"
CITIZEN_ID = "身份证"
AMOUNT_TOLERANCE = 5e-7
"""Amounts are 万元 with at most 6 decimals: equal when they agree to the 6th decimal."""


def confiscation_problems(record_type: str, version: int, data: Mapping[str, Any]) -> list[Problem]:
    """v2 penalty: `CF_NR_WFFF`, the national total, equals the sum of the separate amounts of the kinds its
    处罚类别 names; a separate amount of a kind it does not name is refused (it could only mislead grading)."""
    if record_type != PENALTY or version < 2:
        return []
    named = set(data.get("CF_CFLB", []))
    errors = [
        Problem(
            f"/data/{field}",
            "confiscation_kind_not_named",
            f"处罚类别未含“{kind}”，不应报送 {field}；请核对处罚类别或删除该金额 "
            f"({field} is given but CF_CFLB does not name {kind})",
        )
        for kind, field in CONFISCATION_SPLIT.items()
        if kind not in named and field in data
    ]
    total = data.get("CF_NR_WFFF")
    parts = [data.get(field) for kind, field in CONFISCATION_SPLIT.items() if kind in named]
    numbers = [p for p in parts if isinstance(p, int | float)]
    if errors or not isinstance(total, int | float) or not parts or len(numbers) != len(parts):
        return errors
    if abs(total - sum(numbers)) > AMOUNT_TOLERANCE:
        listed = " + ".join(f"{n:g}" for n in numbers)
        errors.append(
            Problem(
                "/data/CF_NR_WFFF",
                "confiscation_total_mismatch",
                f"没收违法所得、没收非法财物的金额（CF_NR_WFFF）为 {total:g} 万元，但分项金额之和为 {listed} = "
                f"{sum(numbers):g} 万元；两者须一致 (CF_NR_WFFF must equal the sum of the separate amounts)",
            )
        )
    return errors


def licence_action_problems(record_type: str, version: int, data: Mapping[str, Any]) -> list[Problem]:
    """v2 penalty: each listed licence action is one its 处罚类别 names (暂扣 → 暂扣许可证件, 吊销 → 吊销许可证件);
    grading reads the list (only revoking the business licence is D, 000 L190), so it must not contradict."""
    if record_type != PENALTY or version < 2:
        return []
    named = set(data.get("CF_CFLB", []))
    errors = []
    for index, item in enumerate(data.get("licence_actions", [])):
        action = item.get("action") if isinstance(item, Mapping) else None
        category = LICENCE_CATEGORY.get(action) if isinstance(action, str) else None
        if category is not None and category not in named:
            errors.append(
                Problem(
                    f"/data/licence_actions/{index}/action",
                    "licence_action_not_named",
                    f"证照处理方式为“{action}”，但处罚类别未含“{category}”；请核对处罚类别或证照清单 "
                    f"(CF_CFLB does not name {category})",
                )
            )
    return errors


def combined_confiscation_warning(record_type: str, version: int, data: Mapping[str, Any]) -> list[Problem]:
    """v1 penalty naming both confiscation kinds: one national amount holds both, so grading compares half
    of it with the threshold (issue 15 item 4); the department is asked to report the two apart in v2."""
    if record_type != PENALTY or version != 1 or not {GAINS, PROPERTY} <= set(data.get("CF_CFLB", [])):
        return []
    return [
        Problem(
            "/data/CF_NR_WFFF",
            "confiscation_amounts_combined",
            "处罚类别同时含没收违法所得和没收非法财物，CF_NR_WFFF 是两项的合计，信用评价只能按合计的一半与标准比较；"
            "请使用目录第 2 版分别报送没收违法所得金额（confiscated_gains）和没收非法财物价值（confiscated_property）"
            "，两项金额不相加 (000 L184-L188) (report the two amounts separately in catalogue version 2)",
        )
    ]


def undocumented_adverse_warning(record_type: str, version: int, data: Mapping[str, Any]) -> list[Problem]:
    """A v1 watch-list 列入 or 违诺 without a document number rests on no legally effective document
    (001 L646): it is kept, but does not count against the subject; the receipt says why."""
    # The one rule of which records need a document (services/common/legal_document.py); the other adverse
    # types require their document number in v1 already, and a 约谈 counts against no one in any rule set.
    if version != 1 or not lacks_legal_document(record_type, data):
        return []
    what = "列入重点关注名单" if record_type == WATCH_LIST else "违背信用承诺"
    return [
        Problem(
            "/data/document_no",
            "no_legal_document",
            f"该{what}记录未载明具有法律效力的文书号，不作为对该主体的失信依据（不计入信用评价，001 L646）；"
            "请使用目录第 2 版报送文书种类（document_kind）和文书号（document_no） (no legally effective "
            "document: the record does not count against the subject)",
        )
    ]


def authority_warning(record_type: RecordType, data: Mapping[str, Any], department: Department | None) -> list[Problem]:
    """The deciding authority's code should be one of the reporting department's codes (issue 15 item 14)."""
    field = record_type.authority_field
    code = data.get(field) if field else None
    if field is None or department is None or not isinstance(code, str) or code in department.codes:
        return []
    known = "、".join(sorted(department.codes))
    return [
        Problem(
            f"/data/{field}",
            "authority_not_department",
            f"决定机关代码 {code} 不是报送部门 {department.code}（{department.name}）在目录中登记的代码（{known}）；"
            "请核实作出决定的机关。下属机构以自己的代码作出决定的，请县发改局在目录中为本部门登记该代码"
            f"（other_codes） (the deciding authority {code} is not one of {department.code}'s codes)",
        )
    ]


def is_listing_decision(record_type: str, data: Mapping[str, Any]) -> bool:
    """A 严重失信 认定: the record that needs an earlier 拟列入告知 of the same department and subject."""
    return record_type == SERIOUS_LISTING and data.get("stage") == LISTING


def is_listing_notice(record_type: str, data: Mapping[str, Any]) -> bool:
    """A 严重失信 拟列入告知: what a later 认定 of the same department and subject needs."""
    return record_type == SERIOUS_LISTING and data.get("stage") == NOTICE


def missing_notice_warning(decided: date, notices: Iterable[date | None]) -> list[Problem]:
    """A 认定 decided on `decided` with no 拟列入告知 decided on or before it (001 L654: the subject is told
    the grounds and may object before the listing). `notices`: decision dates of the department's
    notices about the subject; None for a listing record whose stage is not known (stored before the
    stage was kept), which is given the benefit of the doubt."""
    if any(day is None or day <= decided for day in notices):
        return []
    return [
        Problem(
            "/data/stage",
            "no_prior_notice",
            "本部门此前未报送对该主体的拟列入告知（stage 拟列入告知）：认定严重失信主体名单前须告知当事人"
            "认定的事由、依据和依法享有的权利，当事人提出异议的应予核实（001 L654）；请补报告知记录或核实认定程序 "
            "(no earlier prior notice of this department for this subject)",
        )
    ]


def birth_date_problems(subject: Mapping[str, Any], decision_date: str) -> list[Problem]:
    """`subject.birth_date` is a natural person's, and not after the decision about them."""
    birth = subject.get("birth_date")
    if not isinstance(birth, str):
        return []
    if subject.get("kind") != "natural_person":
        return [
            Problem(
                "/subject/birth_date",
                "birth_date_not_a_person",
                "出生日期只适用于自然人 (birth_date is for natural persons only)",
            )
        ]
    code = subject.get("code")
    if subject.get("id_type", CITIZEN_ID) == CITIZEN_ID and isinstance(code, str) and len(code) == 18:
        shown = f"{code[6:10]}-{code[10:12]}-{code[12:14]}"
        if shown != birth:
            return [
                Problem(
                    "/subject/birth_date",
                    "birth_date_mismatch",
                    f"出生日期 {birth} 与身份证号码中的出生日期 {shown} 不一致 "
                    "(birth_date disagrees with the ID number)",
                )
            ]
    if birth > decision_date:
        return [
            Problem(
                "/subject/birth_date",
                "birth_date_after_decision",
                f"出生日期 {birth} 晚于决定日期 {decision_date} (birth_date is after the decision date)",
            )
        ]
    return []


class Target(Protocol):
    """What the correction-target check needs of the earlier record (ingest's `StoredRecord`)."""

    @property
    def record_type(self) -> str: ...

    @property
    def subject_code(self) -> str: ...


def correction_target_problems(record: Mapping[str, Any], department: str, target: Target | None) -> list[Problem]:
    """A correction, revocation or repair decision must name an earlier record of the same department
    (`target`: that record as stored, None when the department reported none with that id) about the same
    subject; a repair names a repairable type; nothing acts on a correction or revocation. An empty list:
    the target is right (a correction's `corrected_data` is then checked against the target's type)."""
    target_id = record["data"].get("target_record_id")
    if target is None:
        return [
            Problem(
                "/data/target_record_id",
                "unknown_target",
                f"{department} has reported no record with id {target_id!r} (未找到被更正/撤销/修复的本部门原记录)",
            )
        ]
    if target.subject_code != record["subject"]["code"]:
        return [
            Problem(
                "/subject/code",
                "subject_mismatch",
                f"record {target_id!r} is about another subject; an amendment or repair decision names the subject "
                "of the record it acts on (更正/撤销/修复记录的主体须与原记录一致)",
            )
        ]
    if record["type"] == RecordTypeName.REPAIR_DECISION and target.record_type not in REPAIRABLE_TYPES:
        return [
            Problem(
                "/data/target_record_id",
                "invalid_target",
                f"a {target.record_type} record cannot be repaired; credit repair applies to "
                f"{' and '.join(sorted(REPAIRABLE_TYPES))} records (只有行政处罚和严重失信主体名单可以信用修复)",
            )
        ]
    if target.record_type in CORRECTION_TYPES:
        return [
            Problem(
                "/data/target_record_id",
                "invalid_target",
                "a correction or revocation cannot itself be corrected, revoked or repaired; name the original "
                "(请指向原始记录)",
            )
        ]
    return []
