"""The record validator on arbitrary input: it answers every JSON value a department could send with a
verdict — errors with JSON pointers, never an exception (an exception is a 500 for the department and a
record nobody can explain). Three depths: any JSON at all; a well-formed envelope around any `data`; and
each shipped example with one value anywhere in it (envelope or data, nested ones too) replaced by any
JSON value, which reaches the domain checks."""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.catalogue import load_catalogue
from services.ingest.validation import RecordValidator, Verdict
from tests import factories

CATALOGUE = load_catalogue(factories.SCHEMAS)
VALIDATOR = RecordValidator(CATALOGUE, factories.SCHEMAS)
TODAY = date(2026, 11, 20)
DEPARTMENTS = sorted({d for t in CATALOGUE.record_types.values() for d in t.departments})
EXAMPLES = factories.all_examples()
POINTER = re.compile(r"^(/[^/]*)*$")  # "" (the whole record) or /a/b/0 …

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
SUBJECTS = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["legal_person", "individual_business", "natural_person"]),
        "code": st.sampled_from(["91110000600037341L", "11010519491231002X", "91110000600037341X", "x"]),
        "name": st.text(min_size=1, max_size=10),
    },
    optional={"id_type": st.sampled_from(["身份证", "护照"])},
)


def _judge(record: Any, department: str) -> Verdict:
    verdict = VALIDATOR.validate(record, department=department, today=TODAY)
    for problem in (*verdict.errors, *verdict.warnings, *([verdict.forbidden] if verdict.forbidden else [])):
        assert POINTER.match(problem.path), problem
        assert problem.code
        assert problem.message
    return verdict


@settings(max_examples=300)
@given(record=JSON, department=st.sampled_from(DEPARTMENTS))
def test_any_json_value_gets_a_verdict_never_an_exception(record: Any, department: str) -> None:
    verdict = _judge(record, department)
    if not isinstance(record, dict):
        assert not verdict.accepted


@settings(max_examples=300)
@given(
    record_type=st.sampled_from(sorted(CATALOGUE.record_types)),
    version=st.integers(min_value=1, max_value=3),
    subject=SUBJECTS,
    decided=st.dates(min_value=date(2020, 1, 1), max_value=date(2027, 12, 31)),
    data=st.dictionaries(st.text(max_size=12), JSON, max_size=6),
    department=st.sampled_from(DEPARTMENTS),
)
def test_a_well_formed_envelope_around_any_data_gets_a_verdict(
    record_type: str, version: int, subject: dict[str, Any], decided: date, data: dict[str, Any], department: str
) -> None:
    record = {
        "id": "T-1",
        "type": record_type,
        "version": version,
        "subject": subject,
        "decision_date": decided.isoformat(),
        "data": data,
    }
    verdict = _judge(record, department)
    if department not in CATALOGUE.record_types[record_type].departments:
        assert verdict.forbidden is not None  # 403 before any content is looked at


@pytest.mark.parametrize(("name", "example"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
@settings(max_examples=25)
@given(choice=st.data(), value=JSON)
def test_an_example_with_one_field_replaced_by_any_json_gets_a_verdict(
    name: str, example: dict[str, Any], choice: st.DataObject, value: Any
) -> None:
    record = copy.deepcopy(example)
    department = sorted(CATALOGUE.record_types[record["type"]].departments)[0]
    assert _judge(record, department).accepted, f"{name} should be valid as shipped"
    places = list(_places(record))
    container, key, _ = choice.draw(st.sampled_from(places), label="place")
    container[key] = value
    _judge(record, department)


@pytest.mark.parametrize(("name", "example"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
@settings(max_examples=10)
@given(choice=st.data())
def test_a_nul_character_anywhere_is_refused_at_its_pointer(
    name: str, example: dict[str, Any], choice: st.DataObject
) -> None:
    """JSON may carry U+0000, PostgreSQL cannot store it: accepted, the record would reach no consumer."""
    record = copy.deepcopy(example)
    department = sorted(CATALOGUE.record_types[record["type"]].departments)[0]
    # Free text (the data, the subject's name); enumerated and patterned envelope fields refuse it earlier.
    free = ("/data/", "/subject/name")
    texts = [(c, k, p) for c, k, p in _places(record) if isinstance(c[k], str) and p.startswith(free)]
    container, key, pointer = choice.draw(st.sampled_from(texts), label="text")
    at = choice.draw(st.integers(min_value=0, max_value=len(container[key])), label="position")
    container[key] = container[key][:at] + "\x00" + container[key][at:]
    verdict = _judge(record, department)
    assert ("nul_character", pointer) in {(e.code, e.path) for e in verdict.errors}


def _places(value: Any, pointer: str = "") -> Any:
    """Every (container, key, JSON pointer) of a nested record, so any value — nested ones too — can be
    replaced."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        child_pointer = f"{pointer}/{key}"
        yield value, key, child_pointer
        yield from _places(child, child_pointer)


def test_the_text_backslash_u0000_is_no_nul_character_and_a_nul_in_a_key_is_one() -> None:
    """The NUL check first looks for the escape in the record's JSON (validation.py `_nul_problems`): text that
    spells the escape out must not be refused, and a NUL in a key (no value holds it) must still be found."""
    record = factories.penalty()
    record["data"]["CF_SY"] += "\\u0000"  # a backslash, then "u0000": six characters of text
    assert _judge(record, "AMR").accepted
    record["data"]["备注\x00"] = "x"
    assert ("nul_character", "/data/备注\x00") in {(e.code, e.path) for e in _judge(record, "AMR").errors}
