"""The credit record of a subject as of a date, for one audience (pure: no I/O, no wall clock).

Everything comes from what the reports service consumed: the records (as accepted by ingest, with their
receipts) and the outcome events of grading, sanctions and publish. "As of D" means what the exchange
knew by the end of D (Asia/Shanghai): a record counts once it was received by then, an outcome once its
event was emitted by then. So a report for a past date can be issued again and says the same, and an
auditor replaying the topics gets the same view (docs/decisions.md, issue 16).

Audiences (DOMAIN §8):
- ``public``: public fields only (masked ones masked, publish's rule), no grade, no sanctions detail, no
  withdrawn or repaired adverse record (they have left publication), no internal-only types;
- ``department``: public, masked (in clear) and shared fields, never restricted ones; grade and
  supervision level, sanctions in force for the named matter, withdrawn records marked, repaired ones
  marked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from services.common.amendments import AMENDMENT_TYPES, EffectiveRecord, effective_records
from services.common.catalogue import Catalogue, FieldClass, TypeVersion
from services.common.clock import SHANGHAI
from services.common.records import AcceptedRecord
from services.common.vocabulary import RecordTypeName
from services.publish.rules.masking import public_view

Audience = Literal["public", "department"]
AUDIENCES: tuple[Audience, ...] = ("public", "department")
LOOK_BACK_YEARS = 3  # 004 L65 and 000 L273-L293: three years of records

# Types that are answers about other records, not facts about the subject: never listed as records.
RESPONSE_TYPES = frozenset(
    {
        RecordTypeName.SANCTION_FEEDBACK,
        RecordTypeName.OBJECTION_VERIFICATION,
        RecordTypeName.REPAIR_DECISION,
        *AMENDMENT_TYPES,
    }
)
# Internal supervision records: departments see them, the public never (they are not 双公示 or list data).
DEPARTMENT_ONLY_TYPES = frozenset({RecordTypeName.SUPERVISION_INTERVIEW, RecordTypeName.WATCH_LIST})
REGISTRATION = RecordTypeName.SUBJECT_REGISTRATION
# List types, the field naming entry/exit, the values that put the subject on the list, and the field
# holding the end of the listing (None: until removed).
LISTS: Mapping[str, tuple[str, frozenset[str], str | None]] = {
    RecordTypeName.SERIOUS_UNTRUSTWORTHY_LISTING: ("stage", frozenset({"认定"}), "listing_period_end"),
    RecordTypeName.JUDGMENT_DEFAULTER_LISTING: ("action", frozenset({"列入"}), "listing_period_end"),
    RecordTypeName.ABNORMAL_OPERATION_LISTING: ("action", frozenset({"列入"}), None),
    RecordTypeName.RED_LIST: ("action", frozenset({"列入"}), "valid_until"),
    RecordTypeName.WATCH_LIST: ("action", frozenset({"列入"}), "watch_until"),
}
ADVERSE_TYPES = frozenset(
    {
        RecordTypeName.ADMINISTRATIVE_PENALTY,
        RecordTypeName.SERIOUS_UNTRUSTWORTHY_LISTING,
        RecordTypeName.JUDGMENT_DEFAULTER_LISTING,
        RecordTypeName.ABNORMAL_OPERATION_LISTING,
        RecordTypeName.WATCH_LIST,
    }
)
# What a report line shows of each type: (label, field). Anything the audience may not read is dropped.
SUMMARY: Mapping[str, tuple[tuple[str, str], ...]] = {
    RecordTypeName.ADMINISTRATIVE_LICENSING: (("决定文书号", "XK_WSH"), ("许可类别", "XK_XKLB"), ("许可内容", "XK_NR")),
    RecordTypeName.ADMINISTRATIVE_PENALTY: (
        ("决定文书号", "CF_WSH"),
        ("违法行为类型", "CF_WFXW"),
        ("处罚类别", "CF_CFLB"),
        ("处罚内容", "CF_NR"),
    ),
    RecordTypeName.ADMINISTRATIVE_ACTION: (
        ("文书号", "document_no"),
        ("行为名称", "act_name"),
        ("行为内容", "content"),
    ),
    RecordTypeName.INSPECTION_RESULT: (("抽查任务编号", "task_no"), ("检查结果", "result")),
    RecordTypeName.SERIOUS_UNTRUSTWORTHY_LISTING: (("阶段", "stage"), ("名单", "list_name"), ("文书号", "document_no")),
    RecordTypeName.JUDGMENT_DEFAULTER_LISTING: (
        ("操作", "action"),
        ("执行案号", "case_no"),
        ("失信情形", "circumstances"),
    ),
    RecordTypeName.RED_LIST: (("操作", "action"), ("名单", "list_name"), ("文书号", "document_no")),
    RecordTypeName.ABNORMAL_OPERATION_LISTING: (
        ("操作", "action"),
        ("列入事由", "listing_reason"),
        ("文书号", "document_no"),
    ),
    RecordTypeName.CREDIT_COMMITMENT: (("事件", "event"), ("承诺事项", "matter"), ("承诺书编号", "commitment_no")),
    RecordTypeName.SUPERVISION_INTERVIEW: (("文号", "document_no"), ("约谈事由", "reason")),
    RecordTypeName.WATCH_LIST: (("操作", "action"), ("名单", "list_name"), ("事由", "reason")),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """One consumed outcome event: ``kind`` is the CloudEvents type without ``cn.credit.``."""

    event_id: str
    kind: str
    subject: str
    time: datetime
    data: Mapping[str, Any]


def three_years_before(as_of: date) -> date:
    """The first day of the three years ending on ``as_of`` (2026-11-20 → 2023-11-21; 29 February → 1 March)."""
    try:
        start = as_of.replace(year=as_of.year - LOOK_BACK_YEARS)
    except ValueError:
        start = date(as_of.year - LOOK_BACK_YEARS, 3, 1) - timedelta(days=1)
    return start + timedelta(days=1)


def known_by(instant: datetime, as_of: date) -> bool:
    return instant.astimezone(SHANGHAI).date() <= as_of


def visible(record: AcceptedRecord, catalogue: Catalogue, audience: Audience, subject_kind: str) -> dict[str, Any]:
    """The record's data as ``audience`` may read it (deny by default: unclassed fields are dropped)."""
    rt = catalogue.record_types.get(record.record_type)
    tv = rt.versions.get(record.version) if rt else None
    if rt is None or tv is None:
        return {}
    if audience == "public":
        return public_view(rt, tv, record.data, subject_kind=subject_kind)
    tops, hidden = _department_fields(tv)
    return {k: v for k, v in record.data.items() if k in tops and k not in hidden}


_DEPARTMENT_FIELDS: dict[tuple[str, int, int], tuple[frozenset[str], frozenset[str]]] = {}


def _department_fields(tv: TypeVersion) -> tuple[frozenset[str], frozenset[str]]:
    """Top-level fields a department may read, and restricted paths (once per type version and catalogue)."""
    key = (tv.record_type, tv.version, id(tv.field_classes))
    found = _DEPARTMENT_FIELDS.get(key)
    if found is None:
        allowed = {FieldClass.PUBLIC, FieldClass.MASKED, FieldClass.SHARED}
        tops = frozenset(p.split(".")[0].split("[]")[0] for p, cls in tv.field_classes.items() if cls in allowed)
        hidden = frozenset(p for p, cls in tv.field_classes.items() if cls is FieldClass.RESTRICTED)
        found = _DEPARTMENT_FIELDS[key] = (tops, hidden)
    return found


def _summary(
    record: AcceptedRecord, data: Mapping[str, Any], catalogue: Catalogue, audience: Audience
) -> list[list[str]]:
    """The type's summary fields, then (departments only) every shared top-level field, labelled with
    its schema title and 部门共享."""
    pairs = list(SUMMARY.get(record.record_type, ()))
    if audience == "department":
        rt = catalogue.record_types.get(record.record_type)
        tv = rt.versions.get(record.version) if rt else None
        if tv is not None:
            titles = tv.schema.get("properties", {})
            pairs += [
                (f"{titles.get(path, {}).get('title', path)}（部门共享）", path)
                for path, cls in sorted(tv.field_classes.items())
                if cls is FieldClass.SHARED and "." not in path and "[]" not in path
            ]
    return [[label, _text(data[field])] for label, field in pairs if data.get(field) not in (None, "", [])]


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def _latest(outcomes: Iterable[Outcome], key: str) -> dict[str, Outcome]:
    found: dict[str, Outcome] = {}
    for o in sorted(outcomes, key=lambda o: (o.time, o.event_id)):
        found[str(o.data.get(key))] = o
    return found


def pending_objections(seen: Iterable[Outcome]) -> dict[tuple[str, str], Outcome]:
    """(department, record id) → the filing of an objection not yet answered. Outcome events of one case may
    share a timestamp; an answer wins whatever order they are read in."""
    seen = list(seen)
    answered = {str(o.data.get("objection_id")) for o in seen if o.kind == "objection.answered"}
    return {
        (str(o.data.get("department")), str(o.data.get("record_id"))): o
        for o in seen
        if o.kind == "objection.filed" and str(o.data.get("objection_id")) not in answered
    }


def repaired_records(seen: Iterable[Outcome]) -> dict[tuple[str, str], str]:
    """(department, record id) → the day a repair was approved (准予修复)."""
    repaired: dict[tuple[str, str], str] = {}
    for o in sorted(seen, key=lambda o: (o.time, o.event_id)):
        if o.kind == "repair.answered" and str(o.data.get("decision", "")).startswith("准予"):
            key = (str(o.data.get("department")), str(o.data.get("record_id")))
            repaired.setdefault(key, o.time.astimezone(SHANGHAI).date().isoformat())
    return repaired


def credit_view(
    code: str,
    records: Sequence[AcceptedRecord],
    outcomes: Sequence[Outcome],
    *,
    as_of: date,
    audience: Audience,
    catalogue: Catalogue,
    matter: str | None = None,
    matter_label: str | None = None,
) -> dict[str, Any]:
    """The credit record (信用记录) of ``code`` as of ``as_of`` for ``audience``: a JSON-ready dict whose
    order is fixed (sorted), so equal inputs give byte-equal canonical JSON."""
    known = [r for r in records if known_by(r.received_at, as_of) and r.decision_date <= as_of]
    seen = [o for o in outcomes if known_by(o.time, as_of)]
    effective = effective_records(known, keep_revoked=True)
    subject_kind = next((r.record["subject"]["kind"] for r in known), "legal_person")
    name = next(
        (r.record["subject"].get("name", "") for r in sorted(known, key=lambda r: r.decision_date, reverse=True)), ""
    )
    since = three_years_before(as_of)

    pending = pending_objections(seen)
    repaired = repaired_records(seen)

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    withdrawn: list[dict[str, Any]] = []
    repaired_items: list[dict[str, Any]] = []
    objection_items: list[dict[str, Any]] = []
    for e in effective:
        r = e.record
        if r.record_type in RESPONSE_TYPES or r.record_type == REGISTRATION or r.decision_date < since:
            continue
        if audience == "public" and r.record_type in DEPARTMENT_ONLY_TYPES:
            continue
        key = (r.department, r.record_id)
        rt = catalogue.record_types.get(r.record_type)
        marks: list[str] = []
        item: dict[str, Any] = {
            "record_id": r.record_id,
            "department": r.department,
            "decision_date": r.decision_date.isoformat(),
            "title": rt.title if rt else r.record_type,
            "lines": _summary(r, visible(r, catalogue, audience, subject_kind), catalogue, audience),
            "marks": marks,
        }
        revoked = e.amendment.revoked_by
        if revoked is not None:
            if audience == "public":
                continue  # a revoked decision leaves publication (行政处罚法 Art. 48)
            reason = str(revoked.data.get("reason", ""))
            marks.append(f"已撤销（{revoked.decision_date.isoformat()}：{reason}）")
            withdrawn.append(
                {
                    "record_id": r.record_id,
                    "department": r.department,
                    "on": revoked.decision_date.isoformat(),
                    "reason": reason,
                }
            )
        if key in repaired:
            if audience == "public" and r.record_type in ADVERSE_TYPES:
                continue  # a repaired record is no longer shown to the public (信用修复)
            marks.append(f"已修复（{repaired[key]}）")
            repaired_items.append({"record_id": r.record_id, "department": r.department, "on": repaired[key]})
        if key in pending:
            marks.append("异议处理中")
            objection_items.append(
                {
                    "record_id": r.record_id,
                    "department": r.department,
                    "objection_id": str(pending[key].data.get("objection_id")),
                }
            )
        if e.corrected:
            marks.append("已更正")
        groups.setdefault((r.record_type, r.department), []).append(item)

    return {
        "subject": {"code": code, "name": _subject_name(name, subject_kind, audience), "kind": subject_kind},
        "as_of": as_of.isoformat(),
        "audience": audience,
        "matter": matter,
        "matter_label": matter_label,
        "period": {"from": since.isoformat(), "to": as_of.isoformat()},
        "registration": _registration(effective, catalogue, audience, subject_kind),
        "records": [
            {
                "record_type": rtype,
                "title": catalogue.record_types[rtype].title if rtype in catalogue.record_types else rtype,
                "department": dept,
                "department_name": _dept_name(catalogue, dept),
                "items": sorted(items, key=lambda i: (i["decision_date"], i["record_id"])),
            }
            for (rtype, dept), items in sorted(groups.items())
        ],
        "lists": lists_in_force(effective, catalogue, audience, as_of),
        "grade": _grade(seen) if audience == "department" else None,
        "sanctions": sanctions_for(seen, matter, as_of) if audience == "department" and matter else [],
        "repairs": sorted(repaired_items, key=lambda i: (i["on"], i["record_id"])),
        "objections_pending": sorted(objection_items, key=lambda i: i["record_id"]),
        "withdrawn": sorted(withdrawn, key=lambda i: (i["on"], i["record_id"])),
    }


def _subject_name(name: str, kind: str, audience: Audience) -> str:
    if audience == "public" and kind == "natural_person" and name:
        return name[0] + "*" * (len(name) - 1)
    return name


def _dept_name(catalogue: Catalogue, code: str) -> str:
    dept = catalogue.departments.get(code)
    return dept.name if dept else code


def _registration(
    effective: Sequence[EffectiveRecord], catalogue: Catalogue, audience: Audience, subject_kind: str
) -> dict[str, Any] | None:
    regs = [e.record for e in effective if e.record.record_type == REGISTRATION and e.amendment.revoked_by is None]
    if not regs:
        return None
    latest = max(regs, key=lambda r: (r.decision_date, r.record_id))
    first = min(regs, key=lambda r: (r.decision_date, r.record_id))
    data = visible(latest, catalogue, audience, subject_kind)
    labels = (
        ("名称", "name"),
        ("主体类别", "subject_category"),
        ("市场主体类型", "entity_type"),
        ("法定代表人", "legal_representative"),
        ("成立日期", "establishment_date"),
        ("住所", "address"),
        ("行业", "industry_name"),
        ("登记机关", "registration_authority"),
    )
    lines = [[label, _text(data[f])] for label, f in labels if data.get(f) not in (None, "")]
    state = {"注销": "已注销", "停业": "停业"}.get(str(latest.data.get("event")), "存续")
    lines.append(["登记状态", f"{state}（{latest.decision_date.isoformat()} {latest.data.get('event', '')}）"])
    return {"lines": lines, "first_registered": first.decision_date.isoformat()}


def lists_in_force(
    effective: Sequence[EffectiveRecord], catalogue: Catalogue, audience: Audience, as_of: date
) -> list[dict[str, Any]]:
    """Lists in force on ``as_of``: the latest entry or exit per (list type, department, list name)."""
    latest: dict[tuple[str, str, str], EffectiveRecord] = {}
    for e in effective:
        r = e.record
        if r.record_type not in LISTS or e.amendment.revoked_by is not None:
            continue
        if audience == "public" and r.record_type in DEPARTMENT_ONLY_TYPES:
            continue
        field, entering, _ = LISTS[r.record_type]
        if r.data.get(field) not in entering and r.data.get(field) not in ("移出", "撤销", "屏蔽"):
            continue  # 拟列入告知 and the like neither enter nor leave
        key = (r.record_type, r.department, str(r.data.get("list_name", "")))
        if key not in latest or (r.decision_date, r.record_id) > (
            latest[key].record.decision_date,
            latest[key].record.record_id,
        ):
            latest[key] = e
    found = []
    for (rtype, dept, list_name), e in sorted(latest.items()):
        field, entering, until_field = LISTS[rtype]
        data = e.record.data
        until = data.get(until_field) if until_field else None
        if data.get(field) not in entering or (until and str(until) < as_of.isoformat()):
            continue
        found.append(
            {
                "list": catalogue.record_types[rtype].title if rtype in catalogue.record_types else rtype,
                "list_name": list_name or None,
                "department": dept,
                "department_name": _dept_name(catalogue, dept),
                "record_id": e.record.record_id,
                "since": e.record.decision_date.isoformat(),
                "until": str(until) if until else None,
                "red": rtype == RecordTypeName.RED_LIST,
            }
        )
    return found


def _grade(outcomes: Sequence[Outcome]) -> dict[str, Any] | None:
    grades = [o for o in outcomes if o.kind == "grade.changed"]
    if not grades:
        return None
    last = max(grades, key=lambda o: (str(o.data.get("effective_date")), o.time, o.event_id))
    d = last.data
    return {
        "grade": d.get("new_grade"),
        "supervision_level": d.get("supervision_level"),
        "since": d.get("effective_date"),
        "rule_set": d.get("rule_set"),
        "rule_set_version": d.get("rule_set_version"),
        "reason": d.get("reason"),
    }


def sanctions_for(outcomes: Sequence[Outcome], matter: str, as_of: date) -> list[dict[str, Any]]:
    """Measures in force on ``as_of`` for ``matter`` of the cases whose latest lifecycle event says open."""
    lifecycle = [o for o in outcomes if o.kind.startswith("sanction.") and o.kind != "sanction.instruction"]
    found = []
    day = as_of.isoformat()
    for case_id, o in sorted(_latest(lifecycle, "case_id").items()):
        if o.data.get("state") != "open":
            continue
        for m in o.data.get("measures", []):
            if matter in m.get("matters", []) and m.get("since", "") <= day and (m.get("until") or "9999") >= day:
                found.append(
                    {
                        "case_id": case_id,
                        "measure_id": m.get("measure_id"),
                        "name": m.get("name"),
                        "nature": m.get("nature"),
                        "effect": m.get("effect"),
                        "legal_basis": m.get("legal_basis"),
                        "since": m.get("since"),
                        "until": m.get("until"),
                    }
                )
    return found
