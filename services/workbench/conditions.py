"""Conditional fields of a report form, shown only when they apply, without JavaScript (issue 17).

The pages carry no script and a CSP of `default-src 'self'`, so the form hides a field the schema requires
only under a condition (`if`/`then`/`else`, at the top or in `allOf`) and a stylesheet generated here shows
it again with a `:has()` selector on the form's own controls: an option chosen in a drop-down (`const` /
`enum`) or a box ticked in a list of choices (`contains`). A field with any condition that cannot be said in
CSS (a free-text or boolean control, a keyword other than those) stays shown all the time. Pure: schema in,
text out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from services.workbench.sheets import Column

FORM = "form.record"


@dataclass(frozen=True, slots=True)
class Conditions:
    hidden: frozenset[str]  # fields shown only when one of their selectors matches
    css: str


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ") + '"'


def _clauses(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = [schema] if "if" in schema else []
    found += [s for s in schema.get("allOf", ()) if isinstance(s, Mapping) and "if" in s]
    return found


def _alternatives(test: Mapping[str, Any], cols: Mapping[str, Column], negate: bool) -> list[str] | None:
    """`:has()` chains, one of which matches exactly when `test` holds (or fails, `negate`); None when the
    condition cannot be expressed on the form's controls."""
    if set(test) - {"properties", "required"} or not isinstance(test.get("properties"), Mapping):
        return None
    required = set(test.get("required", ()))
    per_property: list[list[str]] = []
    for name, rule in test["properties"].items():
        col = cols.get(name)
        if col is None or not col.choices or not isinstance(rule, Mapping):
            return None
        if col.kind == "list":
            inner = rule.get("contains")
            if set(rule) != {"contains"} or not isinstance(inner, Mapping) or negate or name not in required:
                return None
            values = _values(inner)
            if values is None:
                return None
            per_property.append([f":has(input[name={_quote(name)}][value={_quote(v)}]:checked)" for v in values])
            continue
        values = _values(rule)
        if values is None or set(rule) - {"const", "enum"}:
            return None
        chosen = set(values) if not negate else set(col.choices) - set(values)
        # An unanswered drop-down leaves the property out: the `if` then holds unless it requires it.
        if (name not in required) != negate:
            chosen.add("")
        options = [v for v in ("", *col.choices) if v in chosen]
        if not options:
            return None
        per_property.append([f":has(select[name={_quote(name)}] option[value={_quote(v)}]:checked)" for v in options])
    if not per_property or (negate and len(per_property) > 1):
        return None  # not(A and B) is not a conjunction of the two negations
    return ["".join(chain) for chain in product(*per_property)]


def _values(rule: Mapping[str, Any]) -> list[str] | None:
    if "const" in rule:
        return [str(rule["const"])] if isinstance(rule["const"], str) else None
    if isinstance(rule.get("enum"), list) and all(isinstance(v, str) for v in rule["enum"]):
        return [str(v) for v in rule["enum"]]
    return None


def conditions_of(schema: Mapping[str, Any], columns: Sequence[Column]) -> Conditions:
    cols = {c.code: c for c in columns}
    always = set(schema.get("required", ()))
    shown_by: dict[str, list[str]] = {}
    stays: set[str] = set()
    for clause in _clauses(schema):
        for branch, negate in (("then", False), ("else", True)):
            body = clause.get(branch)
            if not isinstance(body, Mapping):
                continue
            names = [n for n in body.get("required", ()) if n in cols and n not in always]
            test = clause["if"]
            alternatives = _alternatives(test, cols, negate) if isinstance(test, Mapping) else None
            for name in names:
                if alternatives is None:
                    stays.add(name)
                else:
                    shown_by.setdefault(name, []).extend(alternatives)
    hidden = frozenset(n for n in shown_by if n not in stays)
    rules = [".field.conditional{display:none}"] if hidden else []
    for name in sorted(hidden):
        selectors = ",\n".join(f"{FORM}{a} .field[data-field={_quote(name)}]" for a in shown_by[name])
        rules.append(f"{selectors}{{display:block}}")
    return Conditions(hidden, "\n".join(rules) + "\n")
