"""Lists (名单) and list-like records: whether each entry is in force on a day, whether the portal shows it,
and what the county platform must learn about it (DOMAIN §7; issue 15, docs/decisions.md).

Pure: a subject's effective records and a date in, one :class:`ListDecision` per list record out.

A list is a stream of records: an *entry* (认定 / 列入 / 作出) is in force from its decision date until
the first of

- an *exit* record that names it (移出 / 屏蔽 / 撤销, a commitment's 履行 / 违诺) — from the exit's
  decision date, which is the first day the entry is no longer in force;
- the day after its period end (``until_field``: 名单有效期至 …, inclusive) — "expired";
- the revocation of the entry itself (记录撤销), from the revocation's decision date.

An exit names the entries it ends by :attr:`ListRule.link` (same department and same values of these
fields, decided on or before the exit), or by the entry's own record id in ``exit_ref_field``; an exit
ends every entry it names. A revoked exit ends nothing. Entries in force are published when the rule
says so (``public``), never a minor's (DOMAIN §8). Notices (拟列入告知) are never published. None of
this is the 7-working-day 双公示 clock: list entries are shown from acceptance and carry no deadline.

The table :data:`LIST_RULES` is the data; :func:`list_decisions` applies it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from services.common.amendments import EffectiveRecord
from services.common.records import AcceptedRecord
from services.publish.rules.minors import minor_on_decision
from services.publish.rules.publicity import add_months

NATURAL_PERSON = "natural_person"
ENTRY, EXIT, NOTICE, ONE_OFF = "entry", "exit", "notice", "one_off"
IN_FORCE, ENDED, NOT_YET = "in_force", "ended", "not_yet"
MINOR_REASON = "the subject was a minor on the decision date: minors' records are not published"


@dataclass(frozen=True, slots=True)
class ListRule:
    action_field: str | None
    """The field naming what the record does (stage / action / event); None: every record is a one-off."""
    entries: frozenset[str] = frozenset()
    exits: frozenset[str] = frozenset()
    notices: frozenset[str] = frozenset()
    link: tuple[str, ...] = ()
    """Fields an exit shares with the entries it ends (besides the department)."""
    exit_ref_field: str | None = None
    """A field of the exit holding the department's record id of the entry it ends (precise when given)."""
    until_field: str | None = None
    """The entry's last day in force (inclusive), when the entry has one."""
    public: bool = False
    """Entries in force are published on the portal."""
    exits_published_months: int | None = None
    """Exit records (a commitment's 履行 / 违诺) are published themselves, for this many months."""
    exits_need_document: frozenset[str] = frozenset()
    """Exit actions published only when the record names its legally effective document (001 L646)."""
    person_name_in_clear: bool = False
    """A natural-person subject's name is published in full (the court's 失信被执行人 list, 最高法规定 第六条)."""
    shown_roles: frozenset[str] | None = None
    """Only related persons with these roles are shown (None: as the field classes say)."""
    persons_field: str = "related_persons"
    title_of_action: Mapping[str, str] = field(default_factory=dict)


LIST_RULES: Mapping[str, ListRule] = {
    # 严重失信主体名单: public from 认定 to 移出 or the listing period end (001 L368; 003 L67). The
    # 拟列入告知 is addressed to the subject, who may object first (001 L654): never public. A 移出 ends
    # the department's 认定 entries of the same list.
    "serious_untrustworthy_listing": ListRule(
        action_field="stage",
        entries=frozenset({"认定"}),
        exits=frozenset({"移出"}),
        notices=frozenset({"拟列入告知"}),
        link=("list_name",),
        until_field="listing_period_end",
        public=True,
    ),
    # 失信被执行人: public from 列入 to 屏蔽 / 撤销 / 移出 of the same enforcement case (001 L627). The court
    # publishes a person's name and a part-hidden ID number, and for a unit the name of its 法定代表人 or
    # 负责人 only (最高人民法院关于公布失信被执行人名单信息的若干规定 第六条).
    "judgment_defaulter_listing": ListRule(
        action_field="action",
        entries=frozenset({"列入"}),
        exits=frozenset({"屏蔽", "撤销", "移出"}),
        link=("case_no",),
        until_field="listing_period_end",
        public=True,
        person_name_in_clear=True,
        shown_roles=frozenset({"法定代表人", "主要负责人"}),
    ),
    # 红名单: 优良信息, public from entry to exit or its 有效期至 (001 L364).
    "red_list": ListRule(
        action_field="action",
        entries=frozenset({"列入"}),
        exits=frozenset({"移出"}),
        link=("list_name",),
        until_field="valid_until",
        public=True,
    ),
    # 经营异常名录: public from 列入 to 移出 (企业信息公示暂行条例; 001 L375). A 移出 names its 列入 by
    # listing_record_id; without it, it ends every 列入 of the department.
    "abnormal_operation_listing": ListRule(
        action_field="action",
        entries=frozenset({"列入"}),
        exits=frozenset({"移出"}),
        exit_ref_field="listing_record_id",
        public=True,
    ),
    # 重点关注名单: strict supervision without joint sanctions (001 L619; 003 L69): shared with the county
    # platform through list events, never published (docs/decisions.md).
    "watch_list": ListRule(
        action_field="action",
        entries=frozenset({"列入"}),
        exits=frozenset({"移出"}),
        link=("list_name",),
        until_field="watch_until",
        public=False,
    ),
    # 信用承诺: a commitment is made public (001 L311 "向社会作出公开承诺"; 003 L23) and stays open until
    # fulfilled or breached; the 履行 / 违诺 record is then published for 12 months. A 违诺 is published
    # only when it names its document (v2 document_no; 001 L646).
    "credit_commitment": ListRule(
        action_field="event",
        entries=frozenset({"作出"}),
        exits=frozenset({"履行", "违诺"}),
        link=("commitment_no",),
        public=True,
        exits_published_months=12,
        exits_need_document=frozenset({"违诺"}),
    ),
    # 约谈记录: recorded in the credit file and pushed to the sharing platform (001 L620), not published.
    "supervision_interview": ListRule(action_field=None),
}


@dataclass(frozen=True, slots=True)
class ListDecision:
    """One list record as the rules see it on a day."""

    kind: str
    """entry | exit | notice | one_off"""
    publish: bool
    reason: str
    until: date | None
    """The last day of publication known now (period end; 12 months for a published exit), else None."""
    withdraw_on: date | None
    """The day the state changes by itself (expiry, end of publication) while it has not yet; the ticker
    recomputes the subject then."""
    listing: dict[str, Any]
    """The list state kept with the disclosure; list events are planned from its changes (:func:`list_events`)."""


def list_rule(record_type: str) -> ListRule | None:
    return LIST_RULES.get(record_type)


def list_decisions(effective: Sequence[EffectiveRecord], as_of: date) -> dict[tuple[str, str], ListDecision]:
    """(department, record id) → decision, for every record of a list type among ``effective``."""
    decisions: dict[tuple[str, str], ListDecision] = {}
    by_type: dict[str, list[EffectiveRecord]] = {}
    for item in effective:
        if item.record.record_type in LIST_RULES:
            by_type.setdefault(item.record.record_type, []).append(item)
    for record_type, items in by_type.items():
        decisions.update(_decide_type(LIST_RULES[record_type], items, as_of))
    return decisions


def _key(record: AcceptedRecord) -> tuple[str, str]:
    return (record.department, record.record_id)


def _kind(rule: ListRule, record: AcceptedRecord) -> str:
    if rule.action_field is None:
        return ONE_OFF
    action = record.data.get(rule.action_field)
    if action in rule.entries:
        return ENTRY
    if action in rule.exits:
        return EXIT
    return NOTICE


def _revoked(item: EffectiveRecord, as_of: date) -> AcceptedRecord | None:
    revoked = item.amendment.revoked_by
    return revoked if revoked is not None and revoked.decision_date <= as_of else None


def _names(rule: ListRule, exit_: AcceptedRecord, entry: AcceptedRecord) -> bool:
    """Whether ``exit_`` ends ``entry`` (same department, decided on or before it, and named by it)."""
    if exit_.department != entry.department or entry.decision_date > exit_.decision_date:
        return False
    reference = exit_.data.get(rule.exit_ref_field) if rule.exit_ref_field else None
    if isinstance(reference, str):
        return reference == entry.record_id
    return all(exit_.data.get(f) == entry.data.get(f) for f in rule.link)


def _minor(record: AcceptedRecord) -> bool:
    """A minor's record is not published (DOMAIN §8); list types name the subject in the envelope only. The
    age comes from the citizen ID or else ``subject.birth_date`` (rules/minors.py, the one rule)."""
    kind = str(record.record.get("subject", {}).get("kind"))
    return bool(minor_on_decision(record, kind))


def _decide_type(rule: ListRule, items: list[EffectiveRecord], as_of: date) -> dict[tuple[str, str], ListDecision]:
    ordered = sorted(items, key=lambda e: (e.record.decision_date, e.record.received_at, e.record.record_id))
    entries = [e for e in ordered if _kind(rule, e.record) == ENTRY]
    # Exits in force on as_of, first first (a revoked exit ends nothing).
    exits = [
        e
        for e in ordered
        if _kind(rule, e.record) == EXIT and e.record.decision_date <= as_of and _revoked(e, as_of) is None
    ]
    revoked_exits = [e for e in ordered if _kind(rule, e.record) == EXIT and _revoked(e, as_of) is not None]
    out: dict[tuple[str, str], ListDecision] = {}
    ended_by: dict[str, list[str]] = {}
    for entry in entries:
        decision = _entry(rule, entry, exits, revoked_exits, as_of)
        out[_key(entry.record)] = decision
        if decision.listing.get("end") == "exited":
            ended_by.setdefault(decision.listing["ended_by"], []).append(entry.record.record_id)
    for item in ordered:
        kind, record = _kind(rule, item.record), item.record
        if kind == EXIT:
            out[_key(record)] = _exit(rule, item, ended_by.get(record.record_id, []), as_of)
        elif kind == NOTICE:
            out[_key(record)] = ListDecision(
                NOTICE, False, "拟列入告知：告知当事人，不公示", None, None, {"kind": NOTICE}
            )
        elif kind == ONE_OFF:
            revoked = _revoked(item, as_of)
            listing = {"kind": ONE_OFF, "state": ENDED if revoked else IN_FORCE}
            out[_key(record)] = ListDecision(ONE_OFF, False, "记入信用记录，共享不公示", None, None, listing)
    return out


def _entry(
    rule: ListRule,
    item: EffectiveRecord,
    exits: list[EffectiveRecord],
    revoked_exits: list[EffectiveRecord],
    as_of: date,
) -> ListDecision:
    record = item.record
    until = _date(record.data.get(rule.until_field)) if rule.until_field else None
    listing: dict[str, Any] = {"kind": ENTRY, "since": record.decision_date.isoformat()}
    if until is not None:
        listing["until"] = until.isoformat()
    reinstated = [e.record.record_id for e in revoked_exits if _names(rule, e.record, record)]
    if reinstated:
        listing["reinstated_after"] = reinstated[-1]  # an exit revoked: the entry is in force again
    # The first of: revocation of the entry, an exit naming it, the day after the period end.
    ends: list[tuple[date, str, str | None, str | None]] = []
    revoked = _revoked(item, as_of)
    if revoked is not None:
        ends.append((revoked.decision_date, "revoked", revoked.record_id, None))
    for exit_ in exits:
        if _names(rule, exit_.record, record):
            action = exit_.record.data.get(rule.action_field) if rule.action_field else None
            ends.append((exit_.record.decision_date, "exited", exit_.record.record_id, action))
            break
    if until is not None and until < as_of:
        ends.append((until + timedelta(days=1), "expired", None, None))
    if as_of < record.decision_date:
        listing["state"] = NOT_YET
        return ListDecision(ENTRY, False, f"not decided yet ({record.decision_date})", until, None, listing)
    if ends:
        ended_on, end, by, action = min(ends, key=lambda e: e[0])
        listing.update(state=ENDED, end=end, ended_on=ended_on.isoformat())
        if by is not None:
            listing["ended_by"] = by
        if action is not None:
            listing["end_action"] = action
        why = {"revoked": "撤销", "exited": f"{action or '移出'}（{by}）", "expired": "期满"}[end]
        return ListDecision(ENTRY, False, f"名单已结束：{ended_on} {why}", until, None, listing)
    listing["state"] = IN_FORCE
    withdraw_on = until + timedelta(days=1) if until is not None else None
    if not rule.public:
        return ListDecision(ENTRY, False, "在列；该名单共享不公示", until, withdraw_on, listing)
    if _minor(record):
        return ListDecision(
            ENTRY, False, "the subject was a minor on the decision date: not published", until, withdraw_on, listing
        )
    through = f"through {until}" if until else "until an exit"
    return ListDecision(ENTRY, True, f"在列，公示 {through}", until, withdraw_on, listing)


def _exit(rule: ListRule, item: EffectiveRecord, ends: list[str], as_of: date) -> ListDecision:
    record = item.record
    action = record.data.get(rule.action_field) if rule.action_field else None
    listing: dict[str, Any] = {"kind": EXIT, "action": action, "ends": sorted(ends)}
    if _revoked(item, as_of) is not None:
        listing["state"] = ENDED
        return ListDecision(EXIT, False, "revoked", None, None, listing)
    listing["state"] = IN_FORCE if record.decision_date <= as_of else NOT_YET
    months = rule.exits_published_months
    if months is None or not rule.public:
        return ListDecision(EXIT, False, "移出记录：名单条目随之撤下，本记录不单独公示", None, None, listing)
    if action in rule.exits_need_document and not record.data.get("document_no"):
        why = f"{action}未载明有法律效力的文书（document_no），不公示（001 L646）"
        return ListDecision(EXIT, False, why, None, None, listing)
    until = add_months(record.decision_date, months)
    if _minor(record):
        return ListDecision(
            EXIT, False, "the subject was a minor on the decision date: not published", until, None, listing
        )
    if not record.decision_date <= as_of <= until:
        return ListDecision(EXIT, False, f"published {record.decision_date} through {until} only", until, None, listing)
    return ListDecision(
        EXIT, True, f"published for {months} months, through {until}", until, until + timedelta(days=1), listing
    )


def list_events(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """The list events a change of stored list state announces: entered / exited / expired / recorded.

    - an entry coming into force → ``entered``; an entry leaving it → ``exited`` (an exit record or a
      revocation) or ``expired`` (its period end); first seen already ended → both;
    - an exit that ends no entry of the file (the entry predates the exchange) → ``exited`` itself;
    - a one-off record (约谈) → ``recorded`` once.
    """
    if after is None:
        return []
    kind, state = after.get("kind"), after.get("state")
    was = before.get("state") if before else None
    if kind == ONE_OFF:
        return ["recorded"] if state == IN_FORCE and before is None else []
    if kind == EXIT:
        unmatched = state == IN_FORCE and not after.get("ends")
        was_unmatched = before is not None and was == IN_FORCE and not before.get("ends")
        return ["exited"] if unmatched and not was_unmatched else []
    if kind != ENTRY or state == NOT_YET:
        return []
    events: list[str] = []
    reinstated = before is not None and before.get("reinstated_after") != after.get("reinstated_after")
    if state == IN_FORCE and (was != IN_FORCE or reinstated):
        events.append("entered")
    if state == ENDED and was != ENDED:
        if was != IN_FORCE:
            events.append("entered")
        events.append("expired" if after.get("end") == "expired" else "exited")
    return events


def shown_persons(rule: ListRule, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (already the public view) with only the related persons the rule shows."""
    persons = data.get(rule.persons_field)
    if rule.shown_roles is None or not isinstance(persons, list):
        return data
    kept = [p for p in persons if isinstance(p, dict) and p.get("role") in rule.shown_roles]
    shown = {k: v for k, v in data.items() if k != rule.persons_field}
    if kept:
        shown[rule.persons_field] = kept
    return shown


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
