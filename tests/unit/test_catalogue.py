"""The reporting catalogue (DOMAIN §3): the shipped data, its loader and `exchange catalogue check`."""

from __future__ import annotations

import copy
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

from services.common.catalogue import (
    CatalogueError,
    FieldClass,
    default_schemas_dir,
    iter_field_values,
    load_catalogue,
    schema_field_paths,
)
from services.common.catalogue_check import Severity, check_catalogue, compatibility_problems, main_check

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
CATALOGUE = load_catalogue(SCHEMAS)
EXAMPLES = [
    pytest.param(path.stem, index, item, id=f"{path.stem}[{index}]")
    for path in sorted((SCHEMAS / "examples").glob("*.json"))
    for index, item in enumerate(json.loads(path.read_text(encoding="utf-8")))
]


def _penalty_validator() -> Any:
    return jsonschema_rs.validator_for(dict(CATALOGUE.record_types["administrative_penalty"].versions[1].schema))


def _penalty(index: int) -> dict[str, Any]:
    items = json.loads((SCHEMAS / "examples" / "administrative_penalty.json").read_text(encoding="utf-8"))
    data: dict[str, Any] = items[index]["data"]
    return data


def _required_missing(errors: list[Any]) -> list[str]:
    return [e.kind.property for e in errors if type(e.kind).__name__ == "Required"]


@pytest.fixture
def schemas_copy(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, target)
    return target


def _edit_catalogue(schemas_dir: Path, edit: Any) -> None:
    path = schemas_dir / "catalogue.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


# --- the shipped catalogue ------------------------------------------------------------------------------


def test_shipped_catalogue_passes_the_check_without_errors() -> None:
    problems = check_catalogue(SCHEMAS)
    assert [str(p) for p in problems if p.severity is Severity.ERROR] == []


def test_shipped_catalogue_has_no_warnings_either() -> None:
    assert [str(p) for p in check_catalogue(SCHEMAS)] == []


def test_catalogue_names_every_record_type_of_the_rule_book() -> None:
    assert set(CATALOGUE.record_types) == {
        "administrative_licensing", "administrative_penalty", "administrative_action", "inspection_result",
        "serious_untrustworthy_listing", "judgment_defaulter_listing", "red_list", "credit_commitment",
        "abnormal_operation_listing", "subject_registration", "supervision_interview", "watch_list",
        "record_correction", "record_revocation", "sanction_feedback", "objection_verification",
        "repair_decision",  # the deciding department's answers to a repair application (DOMAIN §9)
        "credit_evaluation", "supervision_level_raise", "false_litigation_listing",  # issue 22
        "commitment_verification",  # issue 22: 核查 of a commitment
    }  # fmt: skip


@pytest.mark.parametrize(("record_type", "index", "item"), EXAMPLES)
def test_each_example_validates_against_its_type_schema(record_type: str, index: int, item: Any) -> None:
    version = CATALOGUE.record_types[record_type].versions[item["version"]]
    validator = jsonschema_rs.validator_for(dict(version.schema), validate_formats=True)
    assert [e.message for e in validator.iter_errors(item["data"])] == []


def test_every_record_type_ships_at_least_one_example() -> None:
    assert {param.values[0] for param in EXAMPLES} == set(CATALOGUE.record_types)


def test_only_the_court_may_report_judgment_defaulters() -> None:
    assert CATALOGUE.record_types["judgment_defaulter_listing"].departments == {"COURT"}


def test_personal_id_numbers_are_never_public() -> None:
    for rt in CATALOGUE.record_types.values():
        for version in rt.versions.values():
            for path, cls in version.field_classes.items():
                if path.endswith(("ZJHM", "id_number")):
                    assert cls is not FieldClass.PUBLIC, f"{rt.name}.{path}"


def test_whistleblower_identity_is_restricted() -> None:
    classes = CATALOGUE.record_types["inspection_result"].versions[1].field_classes
    assert classes["informant.name"] is FieldClass.RESTRICTED


def test_version_in_force_only_from_its_effective_date() -> None:
    penalty = CATALOGUE.record_types["administrative_penalty"]
    assert penalty.version_in_force(1, date(2026, 1, 1)) is not None
    assert penalty.version_in_force(1, date(2025, 12, 31)) is None
    assert penalty.version_in_force(2, date(2026, 6, 1)) is None


def test_public_view_is_plain_json_with_schemas_and_field_classes() -> None:
    view = json.loads(json.dumps(CATALOGUE.public_view()))
    penalty = view["record_types"]["administrative_penalty"]
    assert penalty["departments"] == ["AMR", "HOUSING", "TAX"]
    assert penalty["versions"][0]["effective_from"] == "2026-01-01"
    assert penalty["versions"][0]["fields"]["CF_XDR_ZJHM"] == "masked"
    assert penalty["versions"][0]["schema"]["properties"]["CF_NR_FK"]["minimum"] == 0


def test_default_schemas_dir_is_overridable_by_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EXCHANGE_SCHEMAS_DIR", str(tmp_path))
    assert default_schemas_dir() == tmp_path
    monkeypatch.delenv("EXCHANGE_SCHEMAS_DIR")
    assert default_schemas_dir() == SCHEMAS


def test_nested_fields_are_named_by_dotted_paths_with_array_markers() -> None:
    schema = CATALOGUE.record_types["serious_untrustworthy_listing"].versions[1].schema
    assert "related_persons[].id_number" in schema_field_paths(schema)
    data = {"related_persons": [{"id_number": "a"}, {"name": "b"}, {"id_number": "c"}]}
    assert list(iter_field_values(data, "related_persons[].id_number")) == [
        ("/related_persons/0/id_number", "a"),
        ("/related_persons/2/id_number", "c"),
    ]


# --- the penalty schema's conditional requirements -----------------------------------------------------------


def test_natural_person_without_id_number_fails_with_a_required_error() -> None:
    data = _penalty(1)
    assert data["CF_XDR_LB"] == "自然人"
    del data["CF_XDR_ZJHM"]
    errors = list(_penalty_validator().iter_errors(data))
    assert _required_missing(errors) == ["CF_XDR_ZJHM"]
    assert [list(e.instance_path) for e in errors] == [[]]


def test_company_without_credit_code_or_legal_representative_fails() -> None:
    data = _penalty(0)
    del data["CF_XDR_SHXYM"], data["CF_FRDB"]
    assert sorted(_required_missing(list(_penalty_validator().iter_errors(data)))) == ["CF_FRDB", "CF_XDR_SHXYM"]


def test_fine_without_amount_fails() -> None:
    data = _penalty(0)
    del data["CF_NR_FK"]
    assert _required_missing(list(_penalty_validator().iter_errors(data))) == ["CF_NR_FK"]


def test_confiscation_without_amount_fails() -> None:
    data = _penalty(0)
    del data["CF_NR_WFFF"]
    assert _required_missing(list(_penalty_validator().iter_errors(data))) == ["CF_NR_WFFF"]


def test_revoked_licence_without_its_name_and_number_fails() -> None:
    data = _penalty(2)
    assert "吊销许可证件" in data["CF_CFLB"]
    del data["CF_NR_ZKDX"]
    assert _required_missing(list(_penalty_validator().iter_errors(data))) == ["CF_NR_ZKDX"]


def test_warning_alone_needs_no_amount() -> None:
    data = _penalty(1)
    data["CF_CFLB"] = ["警告"]
    del data["CF_NR_FK"]
    assert _penalty_validator().is_valid(data)


def test_unknown_property_fails() -> None:
    data = _penalty(0)
    data["CF_XDR_XB"] = "男"
    kinds = [type(e.kind).__name__ for e in _penalty_validator().iter_errors(data)]
    assert kinds == ["AdditionalProperties"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("CF_NR_FK", -1, id="negative-fine"),
        pytest.param("CF_CFLB", [], id="no-penalty-kind"),
        pytest.param("CF_CFLB", ["罚款", "罚款"], id="repeated-penalty-kind"),
        pytest.param("CF_CFLB", ["罚金"], id="unknown-penalty-kind"),
        pytest.param("CF_JDRQ", "2026/03/16", id="slashed-date"),
        pytest.param("CF_CFJGDM", "11500101MB1507014I", id="uscc-with-letter-I"),
    ],
)
def test_malformed_penalty_values_fail(field: str, value: Any) -> None:
    data = _penalty(0)
    data[field] = value
    assert not _penalty_validator().is_valid(data)


# --- compatibility between versions ---------------------------------------------------------------------------------

_V1: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["a"],
    "properties": {"a": {"type": "string", "maxLength": 10}, "b": {"enum": ["x", "y"]}},
}


def _v2(change: Any) -> dict[str, Any]:
    schema = copy.deepcopy(_V1)
    change(schema)
    return schema


def test_adding_an_optional_property_is_compatible() -> None:
    assert compatibility_problems(_V1, _v2(lambda s: s["properties"].update(c={"type": "string"}))) == []


def test_added_required_property_is_incompatible() -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"]["c"] = {"type": "string"}
        s["required"].append("c")

    assert any("new required property 'c'" in p for p in compatibility_problems(_V1, _v2(change)))


def test_narrowed_enum_is_incompatible() -> None:
    problems = compatibility_problems(_V1, _v2(lambda s: s["properties"]["b"].update(enum=["x"])))
    assert problems == ["/properties/b: enum narrowed: ['y'] no longer allowed"]


def test_widened_enum_is_compatible() -> None:
    assert compatibility_problems(_V1, _v2(lambda s: s["properties"]["b"].update(enum=["x", "y", "z"]))) == []


def test_removed_property_of_a_closed_schema_is_incompatible() -> None:
    problems = compatibility_problems(_V1, _v2(lambda s: s["properties"].pop("b")))
    assert problems == ["/: property 'b' removed from a closed schema"]


def test_tightened_max_length_is_incompatible() -> None:
    assert compatibility_problems(_V1, _v2(lambda s: s["properties"]["a"].update(maxLength=5))) != []


def test_unknown_keyword_change_is_reported_not_assumed_harmless() -> None:
    assert compatibility_problems(_V1, _v2(lambda s: s.update(propertyNames={"maxLength": 3}))) != []


def test_incompatible_version_without_reason_is_an_error(schemas_copy: Path) -> None:
    v1 = json.loads((schemas_copy / "records/red_list/v1.json").read_text(encoding="utf-8"))
    v1["required"].append("basis")
    (schemas_copy / "records/red_list/v2.json").write_text(json.dumps(v1, ensure_ascii=False), encoding="utf-8")

    def add_v2(document: dict[str, Any]) -> None:
        versions = document["record_types"]["red_list"]["versions"]
        versions.append(
            {**versions[0], "version": 2, "effective_from": "2026-07-01", "schema": "records/red_list/v2.json"}
        )

    _edit_catalogue(schemas_copy, add_v2)
    errors = [p for p in check_catalogue(schemas_copy) if p.severity is Severity.ERROR]
    assert any("new required property 'basis'" in p.message for p in errors)

    def give_reason(document: dict[str, Any]) -> None:
        document["record_types"]["red_list"]["versions"][1]["breaking_change_reason"] = "依据 became mandatory"

    _edit_catalogue(schemas_copy, give_reason)
    assert [p for p in check_catalogue(schemas_copy) if p.severity is Severity.ERROR] == []


# --- the check reports broken catalogues ----------------------------------------------------------------------------


def test_type_naming_an_unknown_department_is_reported(schemas_copy: Path) -> None:
    _edit_catalogue(schemas_copy, lambda d: d["record_types"]["red_list"]["departments"].append("POLICE"))
    problems = check_catalogue(schemas_copy)
    assert any(
        p.severity is Severity.ERROR and "red_list.departments" in p.where and "'POLICE'" in p.message for p in problems
    )
    with pytest.raises(CatalogueError, match="unknown department 'POLICE'"):
        load_catalogue(schemas_copy)


def test_record_type_on_an_outcome_topic_is_reported(schemas_copy: Path) -> None:
    _edit_catalogue(schemas_copy, lambda d: d["record_types"]["red_list"].update(topic="outcomes.grades"))
    assert any("records go to record topics" in p.message for p in check_catalogue(schemas_copy))


def test_unclassed_schema_field_is_reported(schemas_copy: Path) -> None:
    _edit_catalogue(schemas_copy, lambda d: d["record_types"]["red_list"]["versions"][0]["fields"].pop("reason"))
    assert any("'reason' has no class" in p.message for p in check_catalogue(schemas_copy))


def test_classed_field_missing_from_schema_is_reported(schemas_copy: Path) -> None:
    _edit_catalogue(schemas_copy, lambda d: d["record_types"]["red_list"]["versions"][0]["fields"].update(x="public"))
    assert any(p.where.endswith("fields.x") for p in check_catalogue(schemas_copy))


def test_open_object_in_a_schema_is_reported(schemas_copy: Path) -> None:
    path = schemas_copy / "records/red_list/v1.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    del schema["additionalProperties"]
    path.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    assert any("object not closed" in p.message for p in check_catalogue(schemas_copy))


def test_example_with_a_wrong_check_character_is_reported(schemas_copy: Path) -> None:
    path = schemas_copy / "examples/red_list.json"
    items = json.loads(path.read_text(encoding="utf-8"))
    items[0]["data"]["authority_uscc"] = "11500101MB15070490"
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    problems = check_catalogue(schemas_copy)
    assert any(p.where.endswith("/data/authority_uscc") and p.severity is Severity.ERROR for p in problems)


def test_example_whose_subject_disagrees_with_its_data_is_reported(schemas_copy: Path) -> None:
    path = schemas_copy / "examples/administrative_penalty.json"
    items = json.loads(path.read_text(encoding="utf-8"))
    items[0]["subject"]["name"] = "另一家公司"
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    assert any(p.where.endswith("/data/CF_XDR_MC") for p in check_catalogue(schemas_copy))


def test_main_check_prints_a_summary_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main_check(SCHEMAS) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "catalogue OK: 21 record types, 24 versions"


def test_main_check_exits_non_zero_on_errors(schemas_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit_catalogue(schemas_copy, lambda d: d["record_types"]["red_list"]["departments"].append("POLICE"))
    assert main_check(schemas_copy) == 1
    assert capsys.readouterr().out.startswith("ERROR catalogue.yaml: record_types.red_list.departments:")


def test_version_later_than_15_working_days_after_a_law_change_is_warned(schemas_copy: Path) -> None:
    def late(document: dict[str, Any]) -> None:
        document["record_types"]["red_list"]["versions"][0]["law_change_trigger"] = date(2025, 11, 3)

    _edit_catalogue(schemas_copy, late)
    warnings = [p for p in check_catalogue(schemas_copy) if p.severity is Severity.WARNING]
    assert [p.where for p in warnings] == ["catalogue.yaml: record_types.red_list v1"]
    assert "15 working days" in warnings[0].message


def test_field_classed_twice_is_reported_not_silently_overridden(schemas_copy: Path) -> None:
    path = schemas_copy / "catalogue.yaml"
    text = path.read_text(encoding="utf-8")
    line = "          CF_XDR_ZJHM:  masked"
    assert line in text
    path.write_text(text.replace(line, line + "\n          CF_XDR_ZJHM:  public", 1), encoding="utf-8")
    with pytest.raises(
        CatalogueError, match=r"administrative_penalty\.versions\[0\]\.fields\.CF_XDR_ZJHM: duplicate key"
    ):
        load_catalogue(schemas_copy)
