"""What a clerk reads beside a field the exchange refused: ingest answers an engineer (a JSON pointer, a
code and JSON Schema's English sentence); the workbench says the same in Chinese, naming the field by its
catalogue title and the rule it broke, with an example of a right value where the catalogue gives one.

Codes it does not know keep ingest's own message: ingest's domain checks (check characters, dates, the
catalogue entry) already speak Chinese, and an untranslated schema rule is still better shown than hidden.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from services.common.catalogue import RecordType
from services.common.settings import CommonSettings
from services.workbench import sheets

FORMATS = {
    "date": "日期，格式为 年-月-日（如 2026-12-07）",
    "date-time": "日期时间，格式如 2026-12-07T09:30:00+08:00",
    "email": "电子邮箱地址",
    "uri": "网址（以 http:// 或 https:// 开头）",
    "uuid": "UUID",
}
TYPES = {
    "string": "文字",
    "integer": "整数",
    "number": "数字",
    "boolean": "是或否",
    "array": "多项列表",
    "object": "一组字段",
}


def field_schema(pointer: str, record_type: RecordType, version: int, *, column: str = "") -> Mapping[str, Any] | None:
    """The JSON Schema of the field a pointer names: a `data` field (`/data/<field>`, deeper parts ignored),
    or an envelope's subject field (`/subject/<key>`), which the form fills from the data field `column`:
    the clerk knows it by that field's title, and the envelope's own rule is the one that was broken."""
    parts = pointer.split("/")
    type_version = record_type.versions.get(version) or record_type.versions[max(record_type.versions)]
    properties = type_version.schema.get("properties", {})
    if len(parts) >= 3 and parts[1] == "data":
        prop = properties.get(parts[2].replace("~1", "/").replace("~0", "~"))
        return prop if isinstance(prop, Mapping) else None
    if len(parts) == 3 and parts[1] == "subject":
        rule = _envelope_subject().get(parts[2])
        if not isinstance(rule, Mapping):
            return None
        source = properties.get(column, {})
        title = source.get("title") if isinstance(source, Mapping) else None
        return {**rule, "title": title or rule.get("title", parts[2])}
    return None


@cache
def _envelope_subject() -> Mapping[str, Any]:
    envelope = json.loads((CommonSettings().schemas_dir / "envelope.json").read_text(encoding="utf-8"))
    properties: Mapping[str, Any] = envelope["properties"]["subject"]["properties"]
    return properties


def clerk_message(code: str, message: str, schema: Mapping[str, Any] | None, title: str) -> str:
    """The Chinese sentence for one refused field; `title` is the field's name on the form."""
    schema = schema or {}
    example = _example(schema)
    if code == "required":
        return f"请填写“{title}”"
    if code == "pattern":
        return f"“{title}”的写法不符合规定{example}"
    if code == "format":
        wanted = FORMATS.get(str(schema.get("format", "")))
        return f"“{title}”须为{wanted}" if wanted else f"“{title}”的格式不正确{example}"
    if code in ("min_length", "max_length"):
        return f"“{title}”{_length(schema)}"
    if code in ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum"):
        return f"“{title}”{_range(schema)}"
    if code == "enum":
        choices = "、".join(str(c) for c in schema.get("enum", ()))
        return f"“{title}”须为以下之一：{choices}" if choices else f"“{title}”不是可选的值"
    if code == "type":
        kinds = schema.get("type")
        wanted = "或".join(TYPES.get(str(k), str(k)) for k in (kinds if isinstance(kinds, list) else [kinds]))
        return f"“{title}”须为{wanted}" if kinds else f"“{title}”的类型不正确"
    if code in ("min_items", "max_items"):
        low, high = schema.get("minItems"), schema.get("maxItems")
        return f"“{title}”的条数须{_between(low, high, '条')}"
    if code == "additional_properties":
        return "有目录中没有的字段，请删去"
    return message


def _example(schema: Mapping[str, Any]) -> str:
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return f"（示例：{examples[0]}）"
    return ""


def _length(schema: Mapping[str, Any]) -> str:
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low == high and low is not None:
        return f"须为 {low} 个字符"
    if low is not None and low <= 1 and high is None:
        return "不能为空"
    return f"的长度须{_between(low, high, '个字符')}"


def _range(schema: Mapping[str, Any]) -> str:
    parts = []
    if schema.get("minimum") is not None:
        parts.append(f"不小于 {schema['minimum']}")
    if schema.get("exclusiveMinimum") is not None:
        parts.append(f"大于 {schema['exclusiveMinimum']}")
    if schema.get("maximum") is not None:
        parts.append(f"不大于 {schema['maximum']}")
    if schema.get("exclusiveMaximum") is not None:
        parts.append(f"小于 {schema['exclusiveMaximum']}")
    return "须" + "且".join(parts) if parts else "超出允许的范围"


def _between(low: Any, high: Any, unit: str) -> str:
    if low is not None and high is not None:
        return f"在 {low} 至 {high} {unit}之间"
    if low is not None:
        return f"不少于 {low} {unit}"
    if high is not None:
        return f"不多于 {high} {unit}"
    return "符合规定"


def cell_problems(
    errors: Iterable[Mapping[str, Any]], row: sheets.Row, record_type: RecordType
) -> list[sheets.CellProblem]:
    """Ingest's refusals of one row (a form or a sheet row) as problems of its cells, in Chinese."""
    version = int((row.record or {}).get("version", max(record_type.versions)))
    problems = []
    for error in errors:
        pointer, code = str(error.get("path", "")), str(error.get("code", ""))
        column = sheets.column_of_pointer(pointer, record_type, row.record)
        schema = field_schema(pointer, record_type, version, column=column)
        title = str((schema or {}).get("title") or column or pointer)
        problems.append(
            sheets.CellProblem(
                row.number, column, code, clerk_message(code, str(error.get("message", "")), schema, title)
            )
        )
    return problems
