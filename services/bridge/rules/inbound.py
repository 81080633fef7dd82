"""Inbound national lists (docs/bridge-wire-format.md §4): one row of a `cx-national/1` file becomes one
record envelope for ingest, reported by the county department whose line the list is (the court channel
for court defaulters), with `source` naming the list and the issuing national authority.

Pure: no I/O. What the bridge can refuse without asking ingest (a malformed row, an unknown department, a
department the list does not go to, a row repeated in the file) is refused here with a Chinese reason and
the row's JSON pointer; everything else is ingest's validation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FORMAT = "cx-national/1"
MAX_ROWS = 1000
ROW_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,59}$")
RECORD_ID_PREFIX = "nat:"


@dataclass(frozen=True)
class NationalList:
    title: str
    record_type: str
    departments: tuple[str, ...]  # the county departments that receive it (the first is the usual one)


LISTS: dict[str, NationalList] = {
    # 最高人民法院 失信被执行人名单: through the court's channel, as the court's own listings are.
    "judgment_defaulter": NationalList("失信被执行人名单", "judgment_defaulter_listing", ("COURT",)),
    # 国家税务总局 重大税收违法失信主体: the tax line.
    "major_tax_violation": NationalList("重大税收违法失信主体", "serious_untrustworthy_listing", ("TAX",)),
    # 市场监管总局 严重违法失信名单 (and other national serious-untrustworthy lists of a county line).
    "serious_violation": NationalList(
        "严重违法失信名单", "serious_untrustworthy_listing", ("AMR", "HOUSING", "DRC", "TAX")
    ),
    # National red lists (A级纳税人, 守合同重信用, 诚信典型).
    "red_list": NationalList("国家级红名单", "red_list", ("DRC", "AMR", "TAX")),
}


@dataclass(frozen=True)
class RowProblem:
    pointer: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "code": self.code, "message": self.message}


@dataclass
class Row:
    """One row as the bridge keeps it: `envelope` is set when it goes to ingest (state pending)."""

    n: int
    row_id: str | None
    list_name: str | None
    department: str | None
    record_type: str | None
    subject: str | None
    state: str  # pending | refused | duplicate
    envelope: dict[str, Any] | None = None
    errors: list[RowProblem] = field(default_factory=list)


def file_problem(body: Any) -> RowProblem | None:
    """What makes the whole file unreadable (nothing of it is kept), or None."""
    if not isinstance(body, dict):
        return RowProblem("", "malformed_file", "文件须为 JSON 对象 (the file must be a JSON object)")
    if body.get("format") != FORMAT:
        return RowProblem("/format", "unknown_format", f"文件格式须为 {FORMAT} (format must be {FORMAT})")
    batch = body.get("batch_id")
    if not isinstance(batch, str) or not ROW_ID.match(batch):
        return RowProblem("/batch_id", "malformed_file", "批次号缺失或格式不符 (batch_id: 1-60 letters, digits, ._:-)")
    rows = body.get("records")
    if not isinstance(rows, list) or not rows:
        return RowProblem("/records", "malformed_file", "records 须为非空数组 (records must be a non-empty array)")
    if len(rows) > MAX_ROWS:
        return RowProblem("/records", "too_many", f"每个文件至多 {MAX_ROWS} 行 (at most {MAX_ROWS} rows a file)")
    return None


def rows_of(body: Mapping[str, Any], departments: Mapping[str, Any], record_types: Mapping[str, Any]) -> list[Row]:
    """Every row of a readable file with its state before ingest: refused (malformed, unknown or wrong
    department), duplicate (the same row id earlier in this file: imported once), or pending with its
    envelope. `departments`, `record_types`: the catalogue's."""
    out: list[Row] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(body["records"]):
        row = _row(n, raw, departments, record_types, body["batch_id"])
        if row.state == "pending" and row.row_id is not None:
            first = seen.setdefault(row.row_id, n)
            if first != n:
                row.state, row.envelope = "duplicate", None
                row.errors.append(
                    RowProblem(
                        f"/records/{n}/id",
                        "duplicate_row",
                        f"与第 {first} 行条目编号相同，只导入一次 (the same entry as /records/{first}; imported once)",
                    )
                )
        out.append(row)
    return out


def _row(n: int, raw: Any, departments: Mapping[str, Any], record_types: Mapping[str, Any], batch_id: str) -> Row:
    at = f"/records/{n}"
    if not isinstance(raw, dict):
        problem = _malformed(at, "行须为 JSON 对象 (a row is an object)")
        return Row(n, None, None, None, None, None, "refused", errors=[problem])
    row_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    name = raw.get("list") if isinstance(raw.get("list"), str) else None
    dept = raw.get("department") if isinstance(raw.get("department"), str) else None
    subject = raw.get("subject")
    code = subject.get("code") if isinstance(subject, dict) and isinstance(subject.get("code"), str) else None
    row = Row(n, row_id, name, dept, None, code, "refused")
    problems: list[RowProblem] = []
    if row_id is None or not ROW_ID.match(row_id):
        problems.append(_malformed(f"{at}/id", "条目编号缺失或格式不符 (id: 1-60 letters, digits, ._:-)"))
    national = LISTS.get(name or "")
    if national is None:
        known = "、".join(LISTS)
        problems.append(RowProblem(f"{at}/list", "unknown_list", f"未知的国家级名单 {name!r}（可用：{known}）"))
    for key, what in (("authority", "发布机关"), ("decision_date", "决定日期")):
        if not isinstance(raw.get(key), str) or not raw[key]:
            problems.append(_malformed(f"{at}/{key}", f"缺少{what} ({key} is required)"))
    if not isinstance(subject, dict):
        problems.append(_malformed(f"{at}/subject", "缺少信用主体 (subject must be an object)"))
    if not isinstance(raw.get("fields"), dict):
        problems.append(_malformed(f"{at}/fields", "缺少记录内容 (fields must be an object)"))
    if "version" in raw and not (isinstance(raw["version"], int) and not isinstance(raw["version"], bool)):
        problems.append(_malformed(f"{at}/version", "目录版本须为整数 (version must be an integer)"))
    if dept is None or dept not in departments:
        problems.append(
            RowProblem(
                f"{at}/department",
                "unknown_department",
                f"未知的部门代码 {dept!r}，本县目录中没有该部门 (not a department of the catalogue)",
            )
        )
    elif national is not None and (
        dept not in national.departments or dept not in record_types[national.record_type].departments
    ):
        problems.append(
            RowProblem(
                f"{at}/department",
                "department_not_for_list",
                f"{national.title}不由部门 {dept} 接收（可接收：{'、'.join(national.departments)}）",
            )
        )
    if problems:
        row.errors = problems
        return row
    assert national is not None
    assert row_id is not None
    source: dict[str, Any] = {"channel": "national", "list": name, "authority": raw["authority"], "reference": row_id}
    if isinstance(raw.get("authority_uscc"), str):
        source["authority_uscc"] = raw["authority_uscc"]
    row.record_type = national.record_type
    row.state = "pending"
    row.envelope = {
        "id": RECORD_ID_PREFIX + row_id,
        "type": national.record_type,
        "version": raw.get("version", 1),
        "subject": subject,
        "decision_date": raw["decision_date"],
        "data": raw["fields"],
        "source": source,
    }
    return row


def _malformed(pointer: str, message: str) -> RowProblem:
    return RowProblem(pointer, "malformed_row", message)


def row_pointer(n: int, ingest_path: str) -> str:
    """Ingest's pointer into the envelope, as a pointer into the row of the file."""
    at = f"/records/{n}"
    if ingest_path.startswith("/data"):
        return f"{at}/fields{ingest_path[len('/data') :]}"
    if ingest_path.startswith(("/subject", "/decision_date", "/version")):
        return at + ingest_path
    if ingest_path == "/id":
        return f"{at}/id"
    if ingest_path.startswith("/source"):
        return f"{at}/authority"
    return at


def ingest_answer(n: int, status: int, body: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None, list[RowProblem]]:
    """A row's state from ingest's answer to it: 202 accepted, 200 an earlier import of the same entry
    (duplicate, the first receipt), 409 the same entry id with other content, 403/422 refused."""
    if status == 202:
        return "accepted", body.get("receipt"), []
    if status == 200:
        problem = RowProblem(
            f"/records/{n}/id", "already_imported", "该条目此前已导入，未重复记录 (imported before; the first receipt)"
        )
        return "duplicate", body.get("receipt"), [problem]
    if status == 409:
        problem = RowProblem(
            f"/records/{n}/id",
            "conflict",
            "该条目编号已以不同内容导入；名单变更须作为新条目发送 (this entry id was imported with other content)",
        )
        return "refused", None, [problem]
    errors = body.get("errors") or []
    problems = [
        RowProblem(
            row_pointer(n, str(e.get("path", ""))),
            str(e.get("code", "invalid")),
            f"未通过报送校验：{e.get('message', '')}",
        )
        for e in errors
        if isinstance(e, dict)
    ] or [RowProblem(f"/records/{n}", "refused", f"交换平台拒收 (HTTP {status})")]
    return "refused", None, problems
