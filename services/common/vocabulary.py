"""The exchange's words, once: record types, outcome event types and objection-verification outcomes.

Services name these through the classes below instead of string literals of their own, so a typo is an
attribute error (and a mypy error) rather than a record type nobody reports. The attributes are plain
`str` constants, not enum members: they go into JSON (orjson refuses str-enum dict keys), SQL parameters
and Kafka headers unchanged, and compare and hash as fast as any string. `members(cls)` lists a class's
values. `exchange catalogue check` holds them
against the catalogue (`schemas/catalogue.yaml`), the record schemas and the AsyncAPI document
(`services/common/catalogue_check.py`, `vocabulary_problems`): a type added to one and not the others
fails the check.
"""

from __future__ import annotations

from typing import Final

EVENT_TYPE_PREFIX = "cn.credit."


class RecordTypeName:
    """Every record type of the reporting catalogue (`record_types:` in schemas/catalogue.yaml)."""

    ADMINISTRATIVE_LICENSING: Final = "administrative_licensing"  # 行政许可
    ADMINISTRATIVE_PENALTY: Final = "administrative_penalty"  # 行政处罚
    ADMINISTRATIVE_ACTION: Final = "administrative_action"  # 其他行政行为
    INSPECTION_RESULT: Final = "inspection_result"  # 抽查检查结果
    SERIOUS_UNTRUSTWORTHY_LISTING: Final = "serious_untrustworthy_listing"  # 严重失信主体名单
    JUDGMENT_DEFAULTER_LISTING: Final = "judgment_defaulter_listing"  # 失信被执行人
    RED_LIST: Final = "red_list"  # 诚信典型（红名单）
    CREDIT_COMMITMENT: Final = "credit_commitment"  # 信用承诺
    ABNORMAL_OPERATION_LISTING: Final = "abnormal_operation_listing"  # 经营异常名录
    SUBJECT_REGISTRATION: Final = "subject_registration"  # 登记注册基础信息
    SUPERVISION_INTERVIEW: Final = "supervision_interview"  # 约谈记录
    WATCH_LIST: Final = "watch_list"  # 重点关注名单
    RECORD_CORRECTION: Final = "record_correction"  # 记录更正
    RECORD_REVOCATION: Final = "record_revocation"  # 记录撤销
    SANCTION_FEEDBACK: Final = "sanction_feedback"  # 联合惩戒执行反馈
    OBJECTION_VERIFICATION: Final = "objection_verification"  # 异议核实结果
    REPAIR_DECISION: Final = "repair_decision"  # 信用修复决定
    CREDIT_EVALUATION: Final = "credit_evaluation"  # 部门和行业信用评价
    SUPERVISION_LEVEL_RAISE: Final = "supervision_level_raise"  # 监管等级调整（提高）
    FALSE_LITIGATION_LISTING: Final = "false_litigation_listing"  # 虚假诉讼失信人
    COMMITMENT_VERIFICATION: Final = "commitment_verification"  # 信用承诺核查结果


class EventType:
    """Every CloudEvents type of an outcome event the exchange emits (record events are typed
    `cn.credit.record.<record type>.v<version>`; see `record_event_type`)."""

    GRADE_CHANGED: Final = "cn.credit.grade.changed"
    SANCTION_CASE_OPENED: Final = "cn.credit.sanction.case_opened"
    SANCTION_INSTRUCTION: Final = "cn.credit.sanction.instruction"
    SANCTION_SUSPENDED: Final = "cn.credit.sanction.suspended"
    SANCTION_RESUMED: Final = "cn.credit.sanction.resumed"
    SANCTION_LIFTED: Final = "cn.credit.sanction.lifted"
    DISCLOSURE_PUBLISHED: Final = "cn.credit.disclosure.published"
    DISCLOSURE_WITHDRAWN: Final = "cn.credit.disclosure.withdrawn"
    DISCLOSURE_CORRECTED: Final = "cn.credit.disclosure.corrected"
    OBJECTION_FILED: Final = "cn.credit.objection.filed"
    OBJECTION_ANSWERED: Final = "cn.credit.objection.answered"
    OBJECTION_ESCALATED: Final = "cn.credit.objection.escalated"
    REPAIR_FILED: Final = "cn.credit.repair.filed"
    REPAIR_ANSWERED: Final = "cn.credit.repair.answered"
    REPAIR_ESCALATED: Final = "cn.credit.repair.escalated"
    LIST_ENTERED: Final = "cn.credit.list.entered"
    LIST_EXITED: Final = "cn.credit.list.exited"
    LIST_EXPIRED: Final = "cn.credit.list.expired"
    INTERVIEW_RECORDED: Final = "cn.credit.interview.recorded"
    SUPERVISION_PLAN_DRAWN: Final = "cn.credit.supervision.plan_drawn"
    SUPERVISION_COMMITMENT_OVERDUE: Final = "cn.credit.supervision.commitment_overdue"
    AUDIT_ACCESS: Final = "cn.credit.audit.access"


class VerificationOutcome:
    """`outcome` of an objection_verification record (异议核实结论)."""

    UPHELD: Final = "属实"
    REJECTED: Final = "不属实"
    PARTLY_UPHELD: Final = "部分属实"


UPHELD_OUTCOMES = frozenset({VerificationOutcome.UPHELD, VerificationOutcome.PARTLY_UPHELD})
"""Outcomes after which the department corrects or revokes the record (follow_up_record_id)."""


def members(cls: type) -> frozenset[str]:
    """Every value a vocabulary class names."""
    return frozenset(v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str))


def event_kind(event_type: str) -> str:
    """The part after `cn.credit.` (what `services.common.outcomes.outcome_event` takes)."""
    return event_type.removeprefix(EVENT_TYPE_PREFIX)


def record_event_type(record_type: str, version: int) -> str:
    return f"{EVENT_TYPE_PREFIX}record.{record_type}.v{version}"
