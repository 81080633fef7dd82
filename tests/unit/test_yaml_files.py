"""Every file the exchange reads its rules from refuses a repeated key (services/common/yaml_files.py):
PyYAML would keep the last one silently, so a period or a measure written twice would change a legal
effect without a word. Each loader is fed its real file with its first top-level key written again."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from services.common.catalogue import load_catalogue
from services.common.jurisdiction import load_jurisdiction_file
from services.common.severity import load_severity_table
from services.common.yaml_files import YamlFileError, parse_yaml
from services.grading.rules.loader import load_rule_set
from services.sanctions.rules.measures import load_measure_list
from services.supervision.rules.composite import load_composite

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
DEPARTMENTS = set(load_catalogue(SCHEMAS).departments)


def with_first_key_repeated(source: Path, target: Path) -> Path:
    text = source.read_text(encoding="utf-8")
    first = next(line for line in text.splitlines() if re.match(r"^[a-z_]+:", line))
    target.write_text(f"{text}\n{first}\n", encoding="utf-8")
    return target


LOADERS: dict[str, tuple[str, Callable[[Path], object]]] = {
    "grading rule set": ("rulesets/grading/benxi-2017.yaml", load_rule_set),
    "measure list": ("measures.yaml", lambda p: load_measure_list(p, departments=DEPARTMENTS)),
    "jurisdiction": ("jurisdiction.yaml", load_jurisdiction_file),
    "severity table": ("rulesets/publicity/severity.yaml", load_severity_table),
    "composite evaluation": ("rulesets/supervision/county-composite.yaml", load_composite),
}


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_rule_file_with_a_repeated_key_is_refused_naming_it(kind: str, tmp_path: Path) -> None:
    relative, load = LOADERS[kind]
    # Copies keep the file's name and neighbours: a grading rule set's id is its file name, and it names
    # the severity table beside it.
    for variant in ("as-shipped", "edited"):
        shutil.copytree(SCHEMAS / "rulesets", tmp_path / variant / "rulesets")
        shutil.copy(SCHEMAS / relative, tmp_path / variant / relative)
    load(tmp_path / "as-shipped" / relative)  # the real file is accepted
    broken = with_first_key_repeated(SCHEMAS / relative, tmp_path / "edited" / relative)
    with pytest.raises(ValueError, match="duplicate key") as raised:
        load(broken)
    assert str(broken) in str(raised.value)


def test_the_line_of_the_repeated_key_is_given() -> None:
    with pytest.raises(YamlFileError, match=r"line 3") as raised:
        parse_yaml("periods:\n  serious: 36\n  serious: 12\n", "ndrc.yaml")
    assert str(raised.value).startswith("ndrc.yaml: ")
