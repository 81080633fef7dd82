"""The exchange's words, once: record types, outcome event types and objection-verification outcomes.

Services name these through the enums below instead of string literals of their own, so a typo is an
import error rather than a record type nobody reports. The enums are `StrEnum`s: a member equals its
string, so stored rows, JSON and Kafka headers are unchanged. `exchange catalogue check` holds them
against the catalogue (`schemas/catalogue.yaml`), the record schemas and the AsyncAPI document
(`services/common/catalogue_check.py`, `vocabulary_problems`): a type added to one and not the others
fails the check.
"""

from __future__ import annotations

from enum import StrEnum

EVENT_TYPE_PREFIX = "cn.credit."


class RecordTypeName(StrEnum):
    """Every record type of the reporting catalogue (`record_types:` in schemas/catalogue.yaml)."""

    ADMINISTRATIVE_LICENSING = "administrative_licensing"  # 行政许可
    ADMINISTRATIVE_PENALTY = "administrative_penalty"  # 行政处罚
    ADMINISTRATIVE_ACTION = "administrative_action"  # 其他行政行为
    INSPECTION_RESULT = "inspection_result"  # 抽查检查结果
    SERIOUS_UNTRUSTWORTHY_LISTING = "serious_untrustworthy_listing"  # 严重失信主体名单
    JUDGMENT_DEFAULTER_LISTING = "judgment_defaulter_listing"  # 失信被执行人
    RED_LIST = "red_list"  # 诚信典型（红名单）
    CREDIT_COMMITMENT = "credit_commitment"  # 信用承诺
    ABNORMAL_OPERATION_LISTING = "abnormal_operation_listing"  # 经营异常名录
    SUBJECT_REGISTRATION = "subject_registration"  # 登记注册基础信息
    SUPERVISION_INTERVIEW = "supervision_interview"  # 约谈记录
    WATCH_LIST = "watch_list"  # 重点关注名单
    RECORD_CORRECTION = "record_correction"  # 记录更正
    RECORD_REVOCATION = "record_revocation"  # 记录撤销
    SANCTION_FEEDBACK = "sanction_feedback"  # 联合惩戒执行反馈
    OBJECTION_VERIFICATION = "objection_verification"  # 异议核实结果
    REPAIR_DECISION = "repair_decision"  # 信用修复决定
    CREDIT_EVALUATION = "credit_evaluation"  # 部门和行业信用评价
    SUPERVISION_LEVEL_RAISE = "supervision_level_raise"  # 监管等级调整（提高）
    FALSE_LITIGATION_LISTING = "false_litigation_listing"  # 虚假诉讼失信人


class EventType(StrEnum):
    """Every CloudEvents type of an outcome event the exchange emits (record events are typed
    `cn.credit.record.<record type>.v<version>`; see `record_event_type`)."""

    GRADE_CHANGED = "cn.credit.grade.changed"
    SANCTION_CASE_OPENED = "cn.credit.sanction.case_opened"
    SANCTION_INSTRUCTION = "cn.credit.sanction.instruction"
    SANCTION_SUSPENDED = "cn.credit.sanction.suspended"
    SANCTION_RESUMED = "cn.credit.sanction.resumed"
    SANCTION_LIFTED = "cn.credit.sanction.lifted"
    DISCLOSURE_PUBLISHED = "cn.credit.disclosure.published"
    DISCLOSURE_WITHDRAWN = "cn.credit.disclosure.withdrawn"
    DISCLOSURE_CORRECTED = "cn.credit.disclosure.corrected"
    OBJECTION_FILED = "cn.credit.objection.filed"
    OBJECTION_ANSWERED = "cn.credit.objection.answered"
    OBJECTION_ESCALATED = "cn.credit.objection.escalated"
    REPAIR_FILED = "cn.credit.repair.filed"
    REPAIR_ANSWERED = "cn.credit.repair.answered"
    REPAIR_ESCALATED = "cn.credit.repair.escalated"
    LIST_ENTERED = "cn.credit.list.entered"
    LIST_EXITED = "cn.credit.list.exited"
    LIST_EXPIRED = "cn.credit.list.expired"
    INTERVIEW_RECORDED = "cn.credit.interview.recorded"
    SUPERVISION_PLAN_DRAWN = "cn.credit.supervision.plan_drawn"
    AUDIT_ACCESS = "cn.credit.audit.access"

    @property
    def kind(self) -> str:
        """The part after `cn.credit.` (what `services.common.outcomes.outcome_event` takes)."""
        return self.value.removeprefix(EVENT_TYPE_PREFIX)


class VerificationOutcome(StrEnum):
    """`outcome` of an objection_verification record (异议核实结论)."""

    UPHELD = "属实"
    REJECTED = "不属实"
    PARTLY_UPHELD = "部分属实"


UPHELD_OUTCOMES = frozenset({VerificationOutcome.UPHELD, VerificationOutcome.PARTLY_UPHELD})
"""Outcomes after which the department corrects or revokes the record (follow_up_record_id)."""


def record_event_type(record_type: str, version: int) -> str:
    return f"{EVENT_TYPE_PREFIX}record.{record_type}.v{version}"
