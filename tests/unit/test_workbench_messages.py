"""The workbench says in Chinese, at the field, what ingest refused in JSON Schema's English."""

from __future__ import annotations

from services.common.catalogue import load_catalogue
from services.common.settings import CommonSettings
from services.workbench.messages import clerk_message, field_schema

PENALTY = load_catalogue(CommonSettings().schemas_dir).record_types["administrative_penalty"]


def said(pointer: str, code: str, english: str = "an English sentence") -> str:
    schema = field_schema(pointer, PENALTY, 2)
    return clerk_message(code, english, schema, str((schema or {}).get("title", "")))


def test_schema_rules_are_named_by_the_fields_title_with_an_example() -> None:
    assert said("/data/CF_XDR_SHXYM", "pattern") == "“统一社会信用代码”的写法不符合规定（示例：91500101MA5U7K3PXJ）"
    assert said("/data/CF_XDR_SHXYM", "min_length") == "“统一社会信用代码”须为 18 个字符"
    assert said("/data/CF_XDR_MC", "max_length") == "“行政相对人名称”的长度须在 1 至 200 个字符之间"
    assert said("/data/CF_XDR_LB", "enum") == "“行政相对人类别”须为以下之一：法人及非法人组织、自然人、个体工商户"
    assert said("/data/CF_JDRQ", "format").startswith("“处罚决定日期”须为日期")
    assert said("/data/CF_WSH", "required") == "请填写“行政处罚决定书文号”"


def test_an_envelope_rule_is_named_by_the_data_field_the_form_fills_it_from() -> None:
    schema = field_schema("/subject/name", PENALTY, 2, column="CF_XDR_MC")
    assert schema is not None
    assert clerk_message("max_length", "", schema, schema["title"]) == "“行政相对人名称”的长度须在 1 至 200 个字符之间"


def test_what_it_cannot_translate_keeps_ingests_own_words() -> None:
    assert said("/subject/code", "check_character", "校验位不正确") == "校验位不正确"
    assert field_schema("/data/NO_SUCH_FIELD", PENALTY, 2) is None
