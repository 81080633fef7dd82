"""Every error code the services can answer is in the Chinese table of docs/错误码.md, so an integrator
who meets one can look it up (issue 21). Codes are found in the source: the code argument of ApiError,
Problem, Refused, Refusal and NotDurable, and `code=` keywords."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TABLE = (REPO / "docs" / "错误码.md").read_text(encoding="utf-8")
CARRIERS = frozenset({"ApiError", "Problem", "Refused", "Refusal", "NotDurable"})


def _codes() -> set[str]:
    found: set[str] = set()
    for path in (REPO / "services").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            # The code is the one positional string that is a bare lower-case word (paths have "/", messages
            # spaces); where it stands differs (ApiError(path, code, …), identifiers' Problem(code, …)).
            values = list(node.args[:3]) if name in CARRIERS else []
            values += [k.value for k in node.keywords if k.arg == "code"]
            found |= {v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
    return {code for code in found if code and code.replace("_", "").isalpha() and code.islower()}


CODES = sorted(_codes())


def test_the_scan_finds_the_codes_it_should() -> None:
    assert {"required", "uscc_check_character", "outcome_unknown", "too_early", "unauthenticated"} <= set(CODES)


@pytest.mark.parametrize("code", CODES)
def test_every_error_code_is_in_the_chinese_table(code: str) -> None:
    assert f"`{code}`" in TABLE, f"error code {code!r} is not explained in docs/错误码.md"
