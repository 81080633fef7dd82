"""What the portal shows about one subject, derived from its records as of a day (DOMAIN §7-§8).

Pure: records + rules + as-of date in, one :class:`Derived` per disclosure record out. No SQL, no clock.
:func:`plan_change` compares a derived disclosure with what was stored before and names the outcome event
(published / withdrawn / corrected) a subscriber must learn, if any.

**Public record id.** A disclosure is addressed as ``<department>.<department's record id>``, e.g.
``AMR.AMR-2026-000123``: unique across departments, URL-safe (record ids are ``[A-Za-z0-9._:-]``) and
read back by splitting at the first ``.`` (department codes never contain one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.common.amendments import AMENDMENT_TYPES, EffectiveRecord, effective_records
from services.common.calendar import Deadline, WorkingDayCalendar
from services.common.catalogue import Catalogue, RecordType
from services.common.identifiers import mask_id_number, mask_person_name
from services.common.records import AcceptedRecord
from services.common.repairs import REPAIR_DECISION, approved_repairs
from services.common.severity import LISTING
from services.publish.rules import (
    HIDDEN_NAME,
    LIST_RULES,
    Decision,
    ListDecision,
    PublicityRules,
    hide_name,
    list_decisions,
    list_rule,
    listed_document_numbers,
    minor_on_decision,
    public_view,
    shared_view,
    should_publish,
    shown_persons,
    subject_kind_of,
)
from services.publish.rules.withdrawal import public_amendment

PENALTY = "administrative_penalty"
NATURAL_PERSON = "natural_person"
PUBLISHED, WITHDRAWN, WITHHELD = "published", "withdrawn", "withheld"
PUBLICITY_UNTIL_FIELD = "CF_GSJZQ"
"""公示截止期 in the penalty data: always the exchange's date; a department's proposal is never shown."""


def public_id(department: str, record_id: str) -> str:
    return f"{department}.{record_id}"


def split_public_id(value: str) -> tuple[str, str] | None:
    """(department, record id) of a public record id, or None when it is not one."""
    department, dot, record_id = value.partition(".")
    return (department, record_id) if dot and department and record_id else None


def name_tokens(name: str) -> list[str]:
    """What a name is found by: its characters and pairs of adjacent characters (lower case)."""
    folded = name.lower()
    return sorted({*folded, *(folded[i : i + 2] for i in range(len(folded) - 1))})


def query_tokens(fragment: str) -> list[str]:
    """The tokens every name containing ``fragment`` has (a necessary condition; ILIKE decides)."""
    folded = fragment.lower()
    if len(folded) < 2:
        return [folded] if folded else []
    return sorted({folded[i : i + 2] for i in range(len(folded) - 1)})


@dataclass(frozen=True, slots=True)
class DisclosureRules:
    catalogue: Catalogue
    rules: PublicityRules
    calendar: WorkingDayCalendar


@dataclass(frozen=True, slots=True)
class Derived:
    """One disclosure record as the rules see it on ``as_of``."""

    public_id: str
    department: str
    record_id: str
    record_type: str
    subject_code: str
    subject_name: str
    """Public form (张* for a natural person)."""
    decision_date: date
    received_at: datetime
    due: Deadline
    publish: bool
    exempt: bool
    """Not published on purpose (minor, 轻微 under 36号令, revoked, invalid licence): no disclosure clock."""
    reason: str
    publicity_until: date | None
    withdraw_on: date | None
    content: dict[str, Any]
    """The public body served by the API and carried by events (masked; no publication time, no objection state)."""
    amendment: dict[str, Any] | None
    """The correction or revocation in force (id, kind, reason, document number), shown with the reason."""
    repair_from: date | None = None
    """First day a repair may be applied for (最短公示期届满后); None: not repairable (not 失信信息, 轻微 …)."""
    repaired: dict[str, Any] | None = None
    """The approved repair in force (the department's 准予修复 record), which took the record off the portal."""
    non_repairable: str | None = None
    """The legal basis when the record is marked 不可修复 (v2 penalty ``non_repairable``): repair is refused."""
    amendment_received_at: datetime | None = None
    """When the amendment in force reached the exchange (the 3-working-day withdrawal clock, withdrawals.py)."""
    shared: dict[str, Any] | None = None
    """List records only: the data as departments and the county platform see it (public and shared fields,
    masked ones masked; never restricted ones), carried by list events, never stored or served."""


@dataclass(frozen=True, slots=True)
class SubjectView:
    """What a subject's whole file contributes to the disclosure of each of its records besides the record
    itself and its amendments: the document numbers a serious-untrustworthy 认定 rests on, and the approved
    repairs. Kept between events (handlers.py), so a record that changes only itself is derived without
    reading the file again."""

    listed: frozenset[str]
    repairs: Mapping[tuple[str, str], AcceptedRecord]


SHARED_INPUT_TYPES = frozenset({*AMENDMENT_TYPES, REPAIR_DECISION, LISTING, *LIST_RULES})
"""Record types that other records' disclosures depend on: amendments (`effective_records`), repair decisions
(`approved_repairs`), 认定 records (`listed_document_numbers`) and list records (`list_decisions`, which
weighs a type's entries and exits together). Every other record changes no disclosure but its own."""


def changes_only_itself(record: AcceptedRecord) -> bool:
    """Whether adding ``record`` to a file changes no other record's disclosure and not the file's
    :class:`SubjectView` (given that no amendment of it is in the file)."""
    return record.record_type not in SHARED_INPUT_TYPES


def derive_disclosures(records: Iterable[AcceptedRecord], rules: DisclosureRules, as_of: date) -> list[Derived]:
    """Every disclosure record among ``records`` (one subject's file), with amendments applied."""
    return derive_file(records, rules, as_of)[0]


def derive_file(
    records: Iterable[AcceptedRecord], rules: DisclosureRules, as_of: date
) -> tuple[list[Derived], SubjectView]:
    """:func:`derive_disclosures`, and the file's :class:`SubjectView`."""
    records = list(records)
    effective = effective_records(records, keep_revoked=True)
    view = SubjectView(
        listed=listed_document_numbers(e.record for e in effective if e.amendment.revoked_by is None),
        repairs=approved_repairs(records),
    )
    lists = list_decisions(effective, as_of)
    derived = []
    for item in effective:
        record_type = rules.catalogue.record_types.get(item.record.record_type)
        on_list = lists.get((item.record.department, item.record.record_id))
        if record_type is not None and on_list is not None:
            derived.append(_derive_listed(item, record_type, rules, on_list))
        elif record_type is not None and record_type.disclosure:
            approval = view.repairs.get((item.record.department, item.record.record_id))
            derived.append(_derive(item, record_type, rules, as_of, view.listed, approval))
    return derived, view


def derive_added(record: AcceptedRecord, view: SubjectView, rules: DisclosureRules, as_of: date) -> Derived | None:
    """The disclosure of ``record`` (:func:`changes_only_itself`, no amendment of it in the file) added to a
    file whose view is ``view``: exactly what :func:`derive_file` of the file plus the record derives for it,
    while every other record's disclosure stays what it was (tests/unit/test_publish_rules.py holds the two
    to it). None when the record is not a disclosure record."""
    record_type = rules.catalogue.record_types.get(record.record_type)
    if record_type is None or not record_type.disclosure:
        return None
    (item,) = effective_records([record], keep_revoked=True)
    approval = view.repairs.get((record.department, record.record_id))
    return _derive(item, record_type, rules, as_of, view.listed, approval)


def _derive(
    item: EffectiveRecord,
    record_type: RecordType,
    rules: DisclosureRules,
    as_of: date,
    listed: frozenset[str],
    approval: AcceptedRecord | None,
) -> Derived:
    record, original = item.record, item.original
    kind = subject_kind_of(record)
    decision = should_publish(
        item,
        record_type,
        subject_kind=kind,
        as_of=as_of,
        rules=rules.rules,
        calendar=rules.calendar,
        listed_documents=listed,
    )
    window = decision.window
    until = window.maximum_end if window is not None and window.publish else None
    repair_from = window.repair_from if window is not None and window.publish else None
    repaired = _repair_in_force(approval, repair_from, as_of)
    if repaired is not None and decision.publish:
        decision = Decision(
            False,
            f"信用修复：{record.department} 准予修复 ({repaired['record_id']}, {repaired['decision_date']})",
            window,
        )
    pid = public_id(record.department, record.record_id)
    subject = public_subject(record.record["subject"], kind)
    department = rules.catalogue.departments.get(record.department)
    content = {
        "record_id": pid,
        "department": record.department,
        "department_name": department.name if department else record.department,
        "record_type": record_type.name,
        "record_type_title": record_type.title,
        "subject": subject,
        "decision_date": original.decision_date.isoformat(),
        "publicity_until": until.isoformat() if until else None,
        "repair_from": repair_from.isoformat() if repair_from else None,
        "rule_set": window.rule_set if window else None,
        "severity": str(window.severity) if window and window.severity else None,
        "corrected": item.corrected,
        "data": _public_data(record, record_type, kind, until),
    }
    amended = _amendment(item)
    revoked = item.amendment.revoked_by
    if amended is not None and (revoked is None or revoked.decision_date <= as_of):
        # Shown with its reason (行政处罚法 Art. 48); "withdrawn" when it took the record off the portal, which
        # then answers its public id with the notice instead of the content (rules/withdrawal.py).
        off = revoked is not None or window is None or not window.publish
        content["amendment"] = public_amendment(amended, record.department, withdrawn=off)
    barred = window.non_repairable if window is not None else None
    if barred is not None:
        content["non_repairable_basis"] = barred  # only when set: other records' public body is unchanged
    if minor_on_decision(record, kind) is None:  # a person of unknown age: never named, even in part (§8)
        content = hide_name(content, str(record.record["subject"].get("name", "")))
        content["subject"]["name"] = HIDDEN_NAME
        subject = content["subject"]
    return Derived(
        public_id=pid,
        department=record.department,
        record_id=record.record_id,
        record_type=record_type.name,
        subject_code=record.subject_code,
        subject_name=subject["name"],
        decision_date=original.decision_date,
        received_at=original.received_at,
        due=rules.calendar.disclosure_deadline(original.decision_date),
        publish=decision.publish,
        exempt=not decision.publish and _on_purpose(decision, rules.rules, record),
        reason=decision.reason,
        publicity_until=until,
        withdraw_on=window.withdraw_on if window is not None and window.publish else None,
        content=content,
        amendment=amended,
        repair_from=repair_from,
        repaired=repaired,
        non_repairable=barred,
        amendment_received_at=_amendment_received_at(item),
    )


def _amendment_received_at(item: EffectiveRecord) -> datetime | None:
    amendment = item.amendment.revoked_by or item.amendment.corrected_by
    return amendment.received_at if amendment is not None else None


def _derive_listed(
    item: EffectiveRecord, record_type: RecordType, rules: DisclosureRules, on_list: ListDecision
) -> Derived:
    """A list record (rules/lists.py): published while in force, no 7-working-day clock (``exempt``)."""
    record, original = item.record, item.original
    kind = subject_kind_of(record)
    rule = list_rule(record_type.name)
    pid = public_id(record.department, record.record_id)
    subject = public_subject(record.record["subject"], kind)
    unknown_age = minor_on_decision(record, kind) is None
    if rule is not None and rule.person_name_in_clear and kind == NATURAL_PERSON and not unknown_age:
        subject["name"] = str(record.record["subject"].get("name", ""))
    department = rules.catalogue.departments.get(record.department)
    type_version = record_type.versions.get(record.version)
    data = public_view(record_type, type_version, record.data, subject_kind=kind) if type_version else {}
    shared = shared_view(record_type, type_version, record.data, subject_kind=kind) if type_version else {}
    if rule is not None:
        data = shown_persons(rule, data)  # the public view only: the county platform sees every related person
    if unknown_age:  # a person of unknown age: never named, even in part (§8), as for other records
        data = hide_name(data, str(record.record["subject"].get("name", "")))
        subject["name"] = HIDDEN_NAME
    until = on_list.until
    content = {
        "record_id": pid,
        "department": record.department,
        "department_name": department.name if department else record.department,
        "record_type": record_type.name,
        "record_type_title": record_type.title,
        "subject": subject,
        "decision_date": original.decision_date.isoformat(),
        "publicity_until": until.isoformat() if until and on_list.publish else None,
        "repair_from": None,
        "rule_set": None,
        "severity": None,
        "corrected": item.corrected,
        "listing": on_list.listing,
        "data": data,
    }
    return Derived(
        public_id=pid,
        department=record.department,
        record_id=record.record_id,
        record_type=record_type.name,
        subject_code=record.subject_code,
        subject_name=subject["name"],
        decision_date=original.decision_date,
        received_at=original.received_at,
        due=rules.calendar.disclosure_deadline(original.decision_date),
        publish=on_list.publish,
        exempt=True,
        reason=on_list.reason,
        publicity_until=until if on_list.publish else None,
        withdraw_on=on_list.withdraw_on,
        content=content,
        amendment=_amendment(item),
        shared=shared,
    )


def _repair_in_force(approval: AcceptedRecord | None, repair_from: date | None, as_of: date) -> dict[str, Any] | None:
    """The approval, once in force on ``as_of``, for a record the rules let be repaired.

    An approval of a record the law does not let be repaired (not 失信信息, 轻微 and unpublished), or one
    dated before the minimum publicity period ended, withdraws nothing (DOMAIN §7, §9): the record stays
    on the portal through its minimum whatever a department decided.
    """
    if approval is None or repair_from is None or not repair_from <= approval.decision_date <= as_of:
        return None
    return {
        "record_id": approval.record_id,
        "repair_id": approval.data.get("repair_id"),
        "decision_date": approval.decision_date.isoformat(),
        "document_no": approval.data.get("document_no"),
    }


def public_subject(subject: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The envelope subject as the public sees it: a natural person's name and ID number masked."""
    name, code = str(subject.get("name", "")), str(subject.get("code", ""))
    if kind == NATURAL_PERSON:
        return {"kind": kind, "name": mask_person_name(name), "code": mask_id_number(code)}
    return {"kind": kind, "name": name, "code": code}


def _public_data(record: AcceptedRecord, record_type: RecordType, kind: str, until: date | None) -> dict[str, Any]:
    type_version = record_type.versions.get(record.version)
    data = public_view(record_type, type_version, record.data, subject_kind=kind) if type_version else {}
    if record_type.name == PENALTY:
        data.pop(PUBLICITY_UNTIL_FIELD, None)
        if until is not None:
            data[PUBLICITY_UNTIL_FIELD] = until.isoformat()
    return data


def _on_purpose(decision: Decision, rules: PublicityRules, record: AcceptedRecord) -> bool:
    """Whether an unpublished record is withheld by a rule (no clock) rather than by a gap (clock runs)."""
    window = decision.window
    if window is None:
        return True  # revoked, a minor's record, or not a disclosure type
    if window.publish:
        return False  # publishable, but outside its window on as_of: the clock judges it
    rule_set = rules.rule_set_for(record.decision_date)
    return rule_set is not None and (record.record_type == PENALTY or record.record_type in rule_set.record_types)


def _amendment(item: EffectiveRecord) -> dict[str, Any] | None:
    amendment = item.amendment.revoked_by or item.amendment.corrected_by
    if amendment is None:
        return None
    return {
        "record_id": amendment.record_id,
        "kind": amendment.record_type,
        "decision_date": amendment.decision_date.isoformat(),
        "reason_kind": amendment.data.get("reason_kind"),
        "reason": amendment.data.get("reason"),
        "document_no": amendment.data.get("document_no"),
    }


@dataclass(frozen=True, slots=True)
class Previous:
    """What was stored for a disclosure before this recomputation."""

    state: str
    version: int
    published_at: datetime | None
    withdrawn_at: datetime | None
    content: dict[str, Any]
    key: tuple[Any, ...] = ()
    """:func:`storage_key` of what was stored."""


def storage_key(derived: Derived) -> tuple[Any, ...]:
    """The stored columns of a disclosure besides its state and content (unchanged → no write needed)."""
    due = derived.due
    return (derived.subject_name, due.date, due.provisional, derived.exempt, derived.reason, derived.withdraw_on)


@dataclass(frozen=True, slots=True)
class Change:
    state: str
    version: int
    published_at: datetime | None
    withdrawn_at: datetime | None
    event: str | None
    """published | withdrawn | corrected, or None when subscribers have nothing to learn."""


def plan_change(previous: Previous | None, derived: Derived, now: datetime) -> Change:
    """The new stored state of a disclosure and the event announcing it.

    ``published_at`` is the first publication (the disclosure clock judges it); a record published again
    after a withdrawal (a licence corrected back to 有效) keeps it. A published record whose public body
    changed (a correction, a new 公示截止期) is ``corrected``.
    """
    version = previous.version if previous else 0
    first_published = previous.published_at if previous else None
    was_published = previous is not None and previous.state == PUBLISHED
    if derived.publish and not was_published:
        return Change(PUBLISHED, version + 1, first_published or now, None, "published")
    if derived.publish:
        assert previous is not None
        event = "corrected" if previous.content != derived.content else None
        return Change(PUBLISHED, version + (1 if event else 0), first_published, None, event)
    if was_published:
        return Change(WITHDRAWN, version + 1, first_published, now, "withdrawn")
    state = WITHDRAWN if previous is not None and previous.state == WITHDRAWN else WITHHELD
    return Change(state, version, first_published, previous.withdrawn_at if previous else None, None)


def needs_saving(previous: Previous | None, derived: Derived, change: Change) -> bool:
    """Whether the stored row must be written (most recomputations change nothing)."""
    if previous is None or change.event is not None or change.state != previous.state:
        return True
    return previous.key != storage_key(derived) or previous.content != derived.content
