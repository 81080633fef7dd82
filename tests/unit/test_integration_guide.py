"""docs/接入指南.md shows every record type of the catalogue with an example that ingest's validator accepts
(as its reporting department would send it), so the guide cannot fall behind the catalogue (issue 21)."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from services.common.catalogue import load_catalogue
from services.ingest.validation import RecordValidator

REPO = Path(__file__).resolve().parents[2]
GUIDE = (REPO / "docs" / "接入指南.md").read_text(encoding="utf-8")
CATALOGUE = load_catalogue(REPO / "schemas")
SECTION = re.compile(r"^### [^\n]*（`([a-z_]+)`）\n(.*?)(?=^### |^## )", re.M | re.S)
SECTIONS = {m.group(1): m.group(2) for m in SECTION.finditer(GUIDE)}


@pytest.mark.parametrize("record_type", sorted(CATALOGUE.record_types))
def test_the_guide_shows_every_record_type_with_an_example_ingest_accepts(record_type: str) -> None:
    assert record_type in SECTIONS, f"docs/接入指南.md has no section for {record_type}"
    example = json.loads(SECTIONS[record_type].split("```json\n")[1].split("\n```")[0])
    assert example["type"] == record_type
    allowed = CATALOGUE.record_types[record_type].departments
    prefix = example["id"].split("-")[0]  # the examples' ids start with their department's code
    department = prefix if prefix in allowed else sorted(allowed)[0]
    validator = RecordValidator(CATALOGUE, REPO / "schemas")
    verdict = validator.validate(example, department=department, today=date(2026, 11, 20))
    assert verdict.forbidden is None
    assert not verdict.errors, [e.as_dict() for e in verdict.errors]
