"""Minors and persons whose age cannot be known (DOMAIN §8: minors' records are not published). Pure.

A natural person's age on the decision date comes from the document first (an 18-character citizen ID, or
any number that embeds a birth date the same way), else from the envelope's optional ``subject.birth_date``
(for passports, 通行证 … which show no age). When neither tells, the person might be a minor: the record is
still published (publication is the norm, DOMAIN §7; an adult foreigner's penalty must not vanish), but the
person is not identifiable from it — the name is replaced by :data:`HIDDEN_NAME` wherever it appears in the
public form (subject, name fields, free text such as 违法事实), and the ID number is masked as for everyone.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.common.identifiers import born_minor, is_minor, mask_person_name
from services.common.records import AcceptedRecord

NATURAL_PERSON = "natural_person"
HIDDEN_NAME = "***"
"""A name not published in clear or in part: no surname, not even its length."""


def minor_on_decision(record: AcceptedRecord, subject_kind: str) -> bool | None:
    """Was the subject under 18 on the decision date? False for anyone but a natural person; None when the
    age cannot be known (no birth date in the document, no valid ``subject.birth_date``)."""
    if subject_kind != NATURAL_PERSON:
        return False
    by_document = is_minor(record.subject_code, record.decision_date)
    if by_document is not None:
        return by_document
    born = _date(record.record.get("subject", {}).get("birth_date"))
    return None if born is None else born_minor(born, record.decision_date)


def hide_name(value: Any, name: str) -> Any:
    """``value`` (a public body or part of it) with ``name`` — in clear or in its usual masked form — replaced
    by :data:`HIDDEN_NAME` in every string; ``value`` itself is not changed."""
    forms = sorted({form for form in (name, mask_person_name(name)) if len(form) >= 2}, key=len, reverse=True)
    return _hide(value, forms)


def _hide(value: Any, forms: list[str]) -> Any:
    if isinstance(value, str):
        for form in forms:
            value = value.replace(form, HIDDEN_NAME)
        return value
    if isinstance(value, dict):
        return {key: _hide(item, forms) for key, item in value.items()}
    if isinstance(value, list):
        return [_hide(item, forms) for item in value]
    return value


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
