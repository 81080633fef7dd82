"""The workbench's spreadsheet rules, pure: template columns from the catalogue, cell conversion and the
refusals that name a row and column (issue 17)."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import Workbook, load_workbook

from services.common.catalogue import load_catalogue
from services.common.settings import REPO_ROOT
from services.workbench import sheets
from tests import factories

CATALOGUE = load_catalogue(REPO_ROOT / "schemas")
PENALTY = CATALOGUE.record_types["administrative_penalty"]
VERSION = max(PENALTY.versions.values(), key=lambda v: v.version)
COLUMNS = sheets.columns_of(PENALTY, VERSION)


def _column(code: str) -> sheets.Column:
    return next(c for c in COLUMNS if c.code == code)


def test_columns_come_from_the_catalogue_schema() -> None:
    assert COLUMNS[0].code == "id"
    name = _column("CF_XDR_MC")
    assert name.required
    assert name.header == "*行政相对人名称（CF_XDR_MC）"
    assert _column("CF_JDRQ").kind == "date"
    assert _column("CF_CFLB").kind == "list"
    assert "罚款" in _column("CF_CFLB").choices
    assert _column("CF_XDR_LB").choices == ("法人及非法人组织", "自然人", "个体工商户")


@pytest.mark.parametrize(
    ("code", "raw", "expected"),
    [
        ("CF_JDRQ", datetime(2026, 11, 2), "2026-11-02"),
        ("CF_JDRQ", "2026-11-02", "2026-11-02"),
        ("CF_NR_FK", "2.5", 2.5),
        ("CF_NR_FK", 3, 3),
        ("CF_CFLB", "警告、罚款", ["警告", "罚款"]),
        ("CF_WSH", 12345.0, "12345"),
    ],
)
def test_cells_convert_to_the_schema_type(code: str, raw: object, expected: object) -> None:
    problems: list[sheets.CellProblem] = []
    assert sheets._convert(raw, _column(code), 2, problems) == expected
    assert problems == []


@pytest.mark.parametrize(
    ("code", "raw", "problem"),
    [
        ("CF_JDRQ", "2026/11/02", "date_text"),
        ("CF_JDRQ", 46328, "date_serial"),
        ("CF_NR_FK", "２.５", "fullwidth_character"),
        ("CF_XDR_MC", "某公司 ", "surrounding_spaces"),
        ("CF_NR_FK", "二点五", "not_a_number"),
    ],
)
def test_bad_cells_are_named_not_guessed(code: str, raw: object, problem: str) -> None:
    problems: list[sheets.CellProblem] = []
    assert sheets._convert(raw, _column(code), 7, problems) is None
    (found,) = problems
    assert found.code == problem
    assert found.where(COLUMNS).startswith("第 7 行 ")
    assert code in found.where(COLUMNS)


def _xlsx(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_whole_file_refusals() -> None:
    with pytest.raises(sheets.SheetRefused, match="空的"):
        sheets.read(b"", "a.xlsx", PENALTY, VERSION, max_rows=10)
    with pytest.raises(sheets.SheetRefused, match="含宏"):
        sheets.read(b"PK", "a.xlsm", PENALTY, VERSION, max_rows=10)
    template = sheets.template(PENALTY, VERSION, None)
    with pytest.raises(sheets.SheetRefused, match="没有数据行"):
        sheets.read(template, "a.xlsx", PENALTY, VERSION, max_rows=10)
    wrong = Workbook()
    wrong.active.append(["名称", "金额"])
    wrong.active.append(["x", 1])
    with pytest.raises(sheets.SheetRefused, match="缺少必填列") as refused:
        sheets.read(_xlsx(wrong), "a.xlsx", PENALTY, VERSION, max_rows=10)
    assert any(p.code == "unknown_header" for p in refused.value.problems)
    many = load_workbook(io.BytesIO(template))
    for n in range(3):
        many.worksheets[0].append([f"AMR-{n}"])
    with pytest.raises(sheets.SheetRefused, match="最多 2 行") as too_many:
        sheets.read(_xlsx(many), "a.xlsx", PENALTY, VERSION, max_rows=2)
    assert too_many.value.status == 413


def test_pointers_map_back_to_columns() -> None:
    assert sheets.column_of_pointer("/data/CF_WSH", PENALTY) == "CF_WSH"
    assert sheets.column_of_pointer("/subject/code", PENALTY) == "CF_XDR_SHXYM"
    person = {"subject": {"kind": "natural_person"}}
    assert sheets.column_of_pointer("/subject/code", PENALTY, person) == "CF_XDR_ZJHM"
    assert sheets.column_of_pointer("/decision_date", PENALTY) == "CF_JDRQ"
    assert sheets.column_of_pointer("/id", PENALTY) == "id"
    assert sheets.column_of_pointer("", PENALTY) == ""


def test_conditional_fields_are_hidden_until_their_condition_holds() -> None:
    from services.workbench.conditions import conditions_of

    record_type = CATALOGUE.record_types["administrative_penalty"]
    version = record_type.versions[2]
    found = conditions_of(version.schema, sheets.columns_of(record_type, version))
    assert {"CF_XDR_ZJLX", "CF_XDR_ZJHM", "CF_NR_FK"} <= found.hidden
    assert "non_repairable_basis" not in found.hidden, "a boolean's condition cannot be said in CSS"
    assert (
        'form.record:has(select[name="CF_XDR_LB"] option[value="自然人"]:checked) .field[data-field="CF_XDR_ZJHM"]'
        in found.css
    )
    assert 'input[name="CF_CFLB"][value="罚款"]:checked' in found.css


def test_a_natural_person_without_an_id_number_is_named_at_its_cell() -> None:
    record_type = CATALOGUE.record_types["administrative_penalty"]
    version = record_type.versions[2]
    cols = sheets.columns_of(record_type, version)
    record = factories.penalty()
    values = {"id": record["id"], **record["data"], "CF_XDR_LB": "自然人"}
    joined = {k: "、".join(v) if isinstance(v, list) else v for k, v in values.items()}
    cells = [joined.get(c.code) for c in cols]
    row = sheets.read_values(cells, cols, record_type, version)
    assert row.record is None
    assert [(p.column, p.code) for p in row.problems] == [("CF_XDR_ZJHM", "required")]
