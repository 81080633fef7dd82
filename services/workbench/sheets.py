"""Spreadsheets of a record type, generated from the catalogue (issue 17): the template a clerk fills,
the reading of a filled sheet (.xlsx through openpyxl, CSV through the csv module) into catalogue
records, and the result sheet that marks each row accepted (receipt hash) or rejected (error at its cell).

No I/O and no clock: the caller passes bytes and `today`. Problems of the whole file (wrong headers,
merged cells, formulas, macros, empty) refuse the file, so nothing of it is stored; problems of one cell
(a date as text or as an Excel serial number, full-width digits, spaces around a value) reject that row
with the cell named, and the other rows are reported as a `records:batch` would report them.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import xlsxwriter
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from python_calamine import CalamineError, CalamineWorkbook, XmlError, ZipError

from services.common.catalogue import RecordType, TypeVersion

ID_COLUMN = "id"
SUBJECT_COLUMNS = {
    "subject.kind": "主体类别",
    "subject.code": "主体代码（统一社会信用代码或证件号码）",
    "subject.name": "主体名称",
}
SUBJECT_KINDS = {"法人及非法人组织": "legal_person", "个体工商户": "individual_business", "自然人": "natural_person"}
EXAMPLE_PREFIX = "示例"
SHEET = "报送数据"
OPTIONS_SHEET = "选项"
_FORMULA_CELL = re.compile(
    r"<(?:\w+:)?c\b[^>]*\br=\"([A-Z]+[0-9]+)\"[^>]*>(?:(?!</(?:\w+:)?c>).)*?<(?:\w+:)?f[\s>/]", re.S
)
_SHEET_RID = re.compile(r"<(?:\w+:)?sheet\b[^>]*\br:id=\"([^\"]+)\"")
_REL_TARGET = re.compile(r"<Relationship\b[^>]*\bId=\"([^\"]+)\"[^>]*\bTarget=\"([^\"]+)\"")
_LIST_SEPARATORS = re.compile(r"[、,，;；]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HEADER = re.compile(r"^\*?(?P<title>.*?)[（(](?P<code>[A-Za-z0-9_.]+)[)）]\s*$")
XLSX_MACRO_MEMBER = "xl/vbaProject.bin"
REQUIRED_FILL = PatternFill("solid", fgColor="FCE4D6")
ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
OK_FILL = PatternFill("solid", fgColor="C6EFCE")


@dataclass(frozen=True, slots=True)
class Column:
    code: str
    title: str
    required: bool
    kind: str  # string | number | integer | boolean | date | json
    choices: tuple[str, ...] = ()

    @property
    def header(self) -> str:
        return f"{'*' if self.required else ''}{self.title}（{self.code}）"


@dataclass(frozen=True, slots=True)
class CellProblem:
    row: int  # the sheet's row number (1 = header)
    column: str  # the column's data-element code ("" when the problem is not one cell's)
    code: str
    message: str

    def where(self, columns: Sequence[Column]) -> str:
        for index, col in enumerate(columns):
            if col.code == self.column:
                return f"第 {self.row} 行 {get_column_letter(index + 1)} 列（{col.title} {col.code}）"
        return f"第 {self.row} 行"


class SheetRefused(Exception):
    """The whole file is refused: nothing of it is submitted. `problems` name rows and columns."""

    def __init__(self, message: str, problems: Sequence[CellProblem] = (), status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)
        self.status = status


@dataclass(slots=True)
class Row:
    number: int
    values: list[Any]  # as read, for the result sheet
    record: dict[str, Any] | None
    problems: list[CellProblem] = field(default_factory=list)


def columns_of(record_type: RecordType, version: TypeVersion) -> list[Column]:
    """The sheet's columns: the record id, the subject when the type does not carry it in its data, then
    every top-level field of the catalogue schema in its order (Chinese title + data-element code)."""
    schema = version.schema
    required = set(schema.get("required", ()))
    cols = [Column(ID_COLUMN, "部门记录编号", True, "string")]
    if record_type.subject_fields is None:
        cols.append(Column("subject.kind", SUBJECT_COLUMNS["subject.kind"], True, "string", tuple(SUBJECT_KINDS)))
        cols.append(Column("subject.code", SUBJECT_COLUMNS["subject.code"], True, "string"))
        cols.append(Column("subject.name", SUBJECT_COLUMNS["subject.name"], True, "string"))
    for code, prop in schema.get("properties", {}).items():
        cols.append(Column(code, str(prop.get("title", code)), code in required, _kind(prop), _choices(prop)))
    return cols


def _kind(prop: Mapping[str, Any]) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "array" and isinstance(prop.get("items"), dict) and prop["items"].get("type") == "string":
        return "list"  # several choices in one cell, separated by 、 or a comma
    if kind in ("object", "array"):
        return "json"
    if kind == "string" and prop.get("format") == "date":
        return "date"
    return str(kind) if kind in ("number", "integer", "boolean") else "string"


def _choices(prop: Mapping[str, Any]) -> tuple[str, ...]:
    values = prop.get("enum")
    if values is None and isinstance(prop.get("items"), dict):
        values = prop["items"].get("enum")
    return tuple(str(v) for v in values) if isinstance(values, list) else ()


def template(record_type: RecordType, version: TypeVersion, example: Mapping[str, Any] | None) -> bytes:
    """The .xlsx a clerk fills: a header of Chinese title + code (required ones starred and shaded), a
    drop-down list for every enumerated column, one example row (its id starts with 示例, so it is skipped
    on upload) and a sheet of instructions."""
    cols = columns_of(record_type, version)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    options = wb.create_sheet(OPTIONS_SHEET)
    options.sheet_state = "hidden"
    for index, col in enumerate(cols, start=1):
        cell = ws.cell(row=1, column=index, value=col.header)
        cell.font = Font(bold=True, color="C00000" if col.required else "000000")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        if col.required:
            cell.fill = REQUIRED_FILL
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = max(14, min(40, len(col.header) * 2))
        if col.kind == "date":
            cell.comment = Comment("日期请填 YYYY-MM-DD（如 2026-11-20）或设为日期格式的单元格。", "交换平台")
        if col.choices:
            for n, choice in enumerate(col.choices, start=1):
                options.cell(row=n, column=index, value=choice)
            rule = DataValidation(
                type="list",
                formula1=f"{OPTIONS_SHEET}!${letter}$1:${letter}${len(col.choices)}",
                allow_blank=not col.required,
                showErrorMessage=col.kind != "list",  # a list cell holds several choices: 罚款、警告
                errorTitle="请从下拉列表选择",
                error=f"{col.title} 只能取下拉列表中的值。",
            )
            rule.add(f"{letter}2:{letter}10001")
            ws.add_data_validation(rule)
    ws.freeze_panes = "A2"
    if example is not None:
        for index, col in enumerate(cols, start=1):
            value = _example_value(example, col)
            cell = ws.cell(row=2, column=index, value=value)
            cell.font = Font(italic=True, color="808080")
    notes = wb.create_sheet("填写说明")
    lines = [
        f"{record_type.title}（{record_type.name}）第 {version.version} 版报送模板，由信用信息目录生成。",
        "第 1 行为表头：中文名称（数据元代码），带 * 且底色标红的列为必填，请勿修改表头、合并单元格或使用公式。",
        f"第 2 行为示例，记录编号以“{EXAMPLE_PREFIX}”开头的行上传时跳过；每行一条记录，最多 10000 行。",
        "日期填 YYYY-MM-DD 或日期格式单元格；数字用半角；值的前后不要留空格。",
        "同一记录编号重复上传不会重复报送（返回原回执）；要修改已报送的记录请报送更正记录。",
    ]
    for n, line in enumerate(lines, start=1):
        notes.cell(row=n, column=1, value=line)
    notes.column_dimensions["A"].width = 110
    return _save(wb)


def _example_value(example: Mapping[str, Any], col: Column) -> Any:
    if col.code == ID_COLUMN:
        return f"{EXAMPLE_PREFIX}-{example.get('id', '1')}"
    if col.code.startswith("subject."):
        subject = example.get("subject", {})
        key = col.code.split(".", 1)[1]
        value = subject.get(key)
        if key == "kind":
            return next((label for label, kind in SUBJECT_KINDS.items() if kind == value), value)
        return value
    value = example.get("data", {}).get(col.code)
    if col.kind == "list" and isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _save(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# -- reading a filled sheet -------------------------------------------------------------------------------


def read(
    content: bytes,
    filename: str,
    record_type: RecordType,
    version: TypeVersion,
    *,
    max_rows: int,
) -> tuple[list[Column], list[Row]]:
    """Rows of a filled sheet, each with its record or the problems of its cells; SheetRefused for the file."""
    cols = columns_of(record_type, version)
    if not content:
        raise SheetRefused("上传的文件是空的（0 字节），请选择填写好的模板。")
    lower = filename.lower()
    if lower.endswith((".xlsm", ".xltm", ".xls", ".xlsb")):
        raise SheetRefused(f"不接受 {filename.rsplit('.', 1)[-1]} 文件（含宏或旧格式），请另存为 .xlsx 后上传。")
    if lower.endswith(".csv"):
        grid = _csv_grid(content)
    elif lower.endswith(".xlsx"):
        grid = _xlsx_grid(content)
    else:
        raise SheetRefused("只接受 .xlsx 模板或 .csv 文件。")
    header, body = _split_header(grid)
    positions = _match_header(header, cols)
    body = [(n, values) for n, values in body if any(v not in (None, "") for v in values)]
    body = [(n, v) for n, v in body if not str(_at(v, positions[0]) or "").startswith(EXAMPLE_PREFIX)]
    if not body:
        raise SheetRefused("文件中没有数据行（表头之后为空），请填写后再上传。")
    if len(body) > max_rows:
        raise SheetRefused(f"文件有 {len(body)} 行数据，一次最多 {max_rows} 行，请拆分后上传。", status=413)
    return cols, [_row(number, values, positions, cols, record_type, version) for number, values in body]


def _csv_grid(content: bytes) -> list[tuple[int, list[Any]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise SheetRefused("CSV 文件的编码无法识别，请用 UTF-8 或 GB18030（GBK）保存。")
    reader = csv.reader(io.StringIO(text, newline=""))
    return [(n, list(values)) for n, values in enumerate(reader, start=1)]


def _xlsx_grid(content: bytes) -> list[tuple[int, list[Any]]]:
    """Every row's values, read by python-calamine (Rust: a 10,000-row sheet in well under a second).
    Merged cells come from calamine; formulas, which it does not flag (it returns their cached value, if
    any), from the `<f>` elements of the worksheet part, so they are refused rather than read as values."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
            if XLSX_MACRO_MEMBER in names:
                raise SheetRefused("文件含有宏（VBA），不予接收。请另存为不含宏的 .xlsx 后上传。")
            workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
            titles = list(workbook.sheet_names)
            index = titles.index(SHEET) if SHEET in titles else 0
            part = _worksheet_part(archive, index)
            xml = archive.read(part) if part in names else b""
        sheet = workbook.get_sheet_by_index(index)
        grid = [(n, list(values)) for n, values in enumerate(sheet.to_python(skip_empty_area=False), start=1)]
        merged = [
            f"{get_column_letter(c0 + 1)}{r0 + 1}:{get_column_letter(c1 + 1)}{r1 + 1}"
            for (r0, c0), (r1, c1) in (sheet.merged_cell_ranges or [])
        ]
    except SheetRefused:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, CalamineError, XmlError, ZipError) as exc:
        raise SheetRefused(f"文件不是有效的 .xlsx 工作簿（{type(exc).__name__}），请用模板重新填写。") from None
    if merged:
        problems = [CellProblem(0, "", "merged_cells", f"合并单元格 {r}") for r in merged]
        raise SheetRefused(f"工作表含有合并单元格（{'、'.join(merged[:5])}），请取消合并后上传。", problems)
    formulas = _FORMULA_CELL.findall(xml.decode("utf-8", "replace")) if b"<f" in xml else []
    if formulas:
        problems = [CellProblem(0, "", "formula", f"单元格 {c} 是公式") for c in formulas]
        raise SheetRefused(
            f"单元格 {'、'.join(formulas[:5])}{' 等' if len(formulas) > 5 else ''} 含公式，请改为数值后上传"
            "（可复制后“选择性粘贴 → 数值”）。",
            problems,
        )
    return grid


def _worksheet_part(archive: zipfile.ZipFile, index: int) -> str:
    """The zip member of the workbook's `index`-th sheet (from the workbook's relationships)."""
    workbook = archive.read("xl/workbook.xml").decode("utf-8", "replace")
    rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    ids = _SHEET_RID.findall(workbook)
    targets = dict(_REL_TARGET.findall(rels))
    if index >= len(ids) or ids[index] not in targets:
        return f"xl/worksheets/sheet{index + 1}.xml"
    target = targets[ids[index]]
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _split_header(grid: list[tuple[int, list[Any]]]) -> tuple[list[Any], list[tuple[int, list[Any]]]]:
    for index, (_, values) in enumerate(grid):
        if any(v not in (None, "") for v in values):
            return values, grid[index + 1 :]
    raise SheetRefused("文件是空的：没有表头也没有数据，请使用下载的模板。")


def _match_header(header: list[Any], cols: list[Column]) -> list[int]:
    """The position of every column by its data-element code in the header; a missing required column or
    an unknown header refuses the file, naming the column."""
    found: dict[str, int] = {}
    problems: list[CellProblem] = []
    for index, cell in enumerate(header):
        if cell in (None, ""):
            continue
        match = _HEADER.match(str(cell).strip())
        code = match.group("code") if match else str(cell).strip()
        known = {c.code for c in cols}
        if code not in known:
            problems.append(
                CellProblem(
                    1, "", "unknown_header", f"第 1 行 {get_column_letter(index + 1)} 列表头“{cell}”不是本模板的列"
                )
            )
        elif code in found:
            problems.append(CellProblem(1, "", "duplicate_header", f"表头“{cell}”出现了两次"))
        else:
            found[code] = index
    for col in cols:
        if col.required and col.code not in found:
            problems.append(CellProblem(1, col.code, "missing_header", f"缺少必填列“{col.header}”"))
    if problems:
        raise SheetRefused(
            "表头与模板不一致：" + "；".join(p.message for p in problems[:8]) + "。请使用下载的模板。", problems
        )
    return [found.get(col.code, -1) for col in cols]


def _at(values: list[Any], position: int) -> Any:
    return values[position] if 0 <= position < len(values) else None


def _row(
    number: int,
    values: list[Any],
    positions: list[int],
    cols: list[Column],
    record_type: RecordType,
    version: TypeVersion,
) -> Row:
    row = Row(number, [_at(values, p) for p in positions], None)
    data: dict[str, Any] = {}
    record_id: str | None = None
    subject_cells: dict[str, str] = {}
    for col, raw in zip(cols, row.values, strict=True):
        value = _convert(raw, col, number, row.problems)
        if value is None:
            continue
        if col.code == ID_COLUMN:
            record_id = str(value)
        elif col.code.startswith("subject."):
            subject_cells[col.code.split(".", 1)[1]] = str(value)
        else:
            data[col.code] = value
    if row.problems:
        return row
    subject = _subject(record_type, data, subject_cells)
    source = _subject_code_column(record_type, subject)
    if not subject.get("code") and source:
        # Ingest's envelope check would refuse the empty subject code before the schema's conditions are
        # read, naming /subject/code in English; the clerk left a cell empty, so name that cell.
        title = next((c.title for c in cols if c.code == source), source)
        kind = next((label for label, value in SUBJECT_KINDS.items() if value == subject["kind"]), "")
        row.problems.append(CellProblem(number, source, "required", f"{kind}须填写“{title}”（{source}）"))
        return row
    row.record = {
        "id": record_id or "",
        "type": record_type.name,
        "version": version.version,
        "subject": subject,
        "decision_date": str(data.get(record_type.decision_date_field, "")),
        "data": data,
    }
    return row


def _subject(record_type: RecordType, data: Mapping[str, Any], cells: Mapping[str, str]) -> dict[str, Any]:
    fields = record_type.subject_fields
    if fields is None:
        label = cells.get("kind", "")
        return {"kind": SUBJECT_KINDS.get(label, label), "code": cells.get("code", ""), "name": cells.get("name", "")}
    kind = SUBJECT_KINDS.get(str(data.get(fields.kind, "")), "legal_person")
    subject: dict[str, Any] = {"kind": kind, "name": str(data.get(fields.name, ""))}
    if kind == "natural_person":
        subject["code"] = str(data.get(fields.id_number or "", ""))
        if fields.id_type and data.get(fields.id_type):
            subject["id_type"] = data[fields.id_type]
    else:
        subject["code"] = str(data.get(fields.code or "", ""))
    return subject


def _subject_code_column(record_type: RecordType, subject: Mapping[str, Any]) -> str | None:
    """The data field the subject's code is taken from (None for types with 主体 columns of their own)."""
    fields = record_type.subject_fields
    if fields is None:
        return None
    return fields.id_number if subject.get("kind") == "natural_person" else fields.code


def _fullwidth(text: str) -> str | None:
    for ch in text:
        if "\uff01" <= ch <= "\uff5e" and unicodedata.category(unicodedata.normalize("NFKC", ch)) in ("Nd", "Lu", "Ll"):
            return ch
    return None


def _convert(raw: Any, col: Column, number: int, problems: list[CellProblem]) -> Any:
    """The cell's value as the catalogue schema types it, or None (empty); a problem names the cell."""
    if raw is None or raw == "":
        return None

    def refuse(code: str, message: str) -> None:
        problems.append(CellProblem(number, col.code, code, message))

    if isinstance(raw, str):
        if raw != raw.strip():
            refuse("surrounding_spaces", f"“{raw}”前后有空格，请删除。")
            return None
        wide = _fullwidth(raw)
        if wide is not None and col.kind != "json":
            half = unicodedata.normalize("NFKC", wide)
            refuse("fullwidth_character", f"“{raw}”含全角字符“{wide}”，请改为半角“{half}”。")
            return None
    if col.kind == "date":
        if isinstance(raw, datetime):
            return raw.date().isoformat()
        if isinstance(raw, date):
            return raw.isoformat()
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            refuse(
                "date_serial",
                f"日期写成了数字 {raw}（Excel 日期序号），请把单元格设为日期格式或填写 YYYY-MM-DD。",
            )
            return None
        text = str(raw)
        if not _ISO_DATE.match(text):
            refuse("date_text", f"日期“{text}”的格式不对，请填写 YYYY-MM-DD（如 2026-11-20）。")
            return None
        return text
    if col.kind in ("number", "integer"):
        if isinstance(raw, bool):
            refuse("not_a_number", f"“{raw}”不是数字。")
            return None
        if isinstance(raw, int | float):
            value: Any = raw
        else:
            try:
                value = float(str(raw)) if col.kind == "number" else int(str(raw))
            except ValueError:
                refuse("not_a_number", f"“{raw}”不是{'整数' if col.kind == 'integer' else '数字'}。")
                return None
        if col.kind == "integer":
            if float(value) != int(value):
                refuse("not_an_integer", f"“{raw}”不是整数。")
                return None
            return int(value)
        return int(value) if isinstance(value, int) else float(value)
    if col.kind == "boolean":
        text = str(raw).strip().lower()
        if text in ("true", "是", "1"):
            return True
        if text in ("false", "否", "0"):
            return False
        refuse("not_a_boolean", f"“{raw}”请填“是”或“否”。")
        return None
    if col.kind == "list":
        return [part.strip() for part in _LIST_SEPARATORS.split(str(raw)) if part.strip()]
    if col.kind == "json":
        try:
            return json.loads(str(raw))
        except ValueError:
            refuse("not_json", '该列填写 JSON（如 ["…"]），内容无法解析。')
            return None
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime | date):
        refuse("not_text", f"该列应为文字，单元格却是日期 {raw}。")
        return None
    return str(raw)


# -- the result sheet -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowResult:
    row: Row
    accepted: bool
    receipt_hash: str | None
    problems: Sequence[CellProblem]
    replayed: bool = False  # the same record was already accepted (idempotent re-upload)


def column_of_pointer(pointer: str, record_type: RecordType, record: Mapping[str, Any] | None = None) -> str:
    """The sheet column of an ingest error's JSON pointer ("" when it is not one column's). A natural
    person's subject code is the ID number, so `/subject/code` is that cell when `record` says so."""
    if pointer.startswith("/data/"):
        return pointer.split("/")[2]
    if pointer == "/id":
        return ID_COLUMN
    fields = record_type.subject_fields
    if pointer.startswith("/subject/"):
        key = pointer.split("/")[2]
        if fields is None:
            return f"subject.{key}"
        person = record is not None and (record.get("subject") or {}).get("kind") == "natural_person"
        by_key = {
            "code": (fields.id_number or fields.code) if person else (fields.code or fields.id_number),
            "name": fields.name,
            "kind": fields.kind,
            "id_type": fields.id_type,
        }
        return by_key.get(key) or ""
    if pointer == "/decision_date":
        return record_type.decision_date_field
    return ""


def result_sheet(cols: Sequence[Column], results: Iterable[RowResult]) -> bytes:
    """The filled rows again, with 结果 / 回执哈希 / 错误说明 / 原表行号 columns; each wrong cell shaded, with its
    message as a comment. Written by xlsxwriter row by row (constant memory): 10,000 rows in about a second."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": True, "strings_to_numbers": False})
    ws = book.add_worksheet("报送结果")
    bold = book.add_format({"bold": True})
    wrong = book.add_format({"bg_color": "#FFC7CE"})
    fine = book.add_format({"bg_color": "#C6EFCE"})
    ws.freeze_panes(1, 0)
    ws.write_row(0, 0, [*(c.header for c in cols), "结果", "回执哈希", "错误说明", "原表行号"], bold)
    position = {c.code: i for i, c in enumerate(cols)}
    n = len(cols)
    for line, result in enumerate(results, start=1):
        shaded: dict[int, str] = {}
        messages = []
        for problem in result.problems:
            messages.append(f"{problem.where(cols)}：{problem.message}")
            at = position.get(problem.column)
            if at is not None:
                shaded[at] = problem.message
        for column, value in enumerate(result.row.values):
            plain = _plain(value)
            if column in shaded:
                ws.write(line, column, plain if plain is not None else "", wrong)
                ws.write_comment(line, column, shaded[column], {"author": "交换平台"})
            elif plain is not None and plain != "":
                ws.write(line, column, plain)
        note = "\n".join(messages) or ("重复上传，返回原回执" if result.replayed else None)
        ws.write(line, n, "已接收" if result.accepted else "退回", fine if result.accepted else wrong)
        if result.receipt_hash:
            ws.write_string(line, n + 1, result.receipt_hash)
        if note:
            ws.write_string(line, n + 2, note)
        ws.write_number(line, n + 3, result.row.number)
    book.close()
    return out.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def read_values(values: list[Any], cols: list[Column], record_type: RecordType, version: TypeVersion) -> Row:
    """A record from one row of values in column order (the report form posts the same columns)."""
    return _row(1, values, list(range(len(cols))), cols, record_type, version)
