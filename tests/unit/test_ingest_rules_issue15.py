"""Issue 15, ingest's pure rules: catalogue v2 (items 3, 4, 5, 12, 13), the deciding authority (item 14),
the 认定 without prior notice (objections), and the v2 schemas' own requirements."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from services.common.catalogue import load_catalogue
from services.ingest import rules

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
CATALOGUE = load_catalogue(SCHEMAS)
AMR = CATALOGUE.departments["AMR"]


def _example(record_type: str, version: int, index: int = 0) -> dict[str, Any]:
    items = json.loads((SCHEMAS / "examples" / f"{record_type}.json").read_text(encoding="utf-8"))
    found: dict[str, Any] = copy.deepcopy([i for i in items if i["version"] == version][index])
    return found


def _missing(record_type: str, version: int, data: dict[str, Any]) -> list[str]:
    schema = CATALOGUE.record_types[record_type].versions[version].schema
    errors = jsonschema_rs.validator_for(dict(schema)).iter_errors(data)
    return sorted(e.kind.property for e in errors if type(e.kind).__name__ == "Required")


# --- the v2 schemas -------------------------------------------------------------------------------------------


def test_v2_penalty_requires_each_named_confiscation_amount_apart() -> None:
    data = _example("administrative_penalty", 2)["data"]
    del data["confiscated_gains"], data["confiscated_property"]
    assert _missing("administrative_penalty", 2, data) == ["confiscated_gains", "confiscated_property"]


def test_v2_penalty_requires_the_structured_licence_list_when_a_licence_is_suspended_or_revoked() -> None:
    data = _example("administrative_penalty", 2)["data"]
    del data["licence_actions"]
    assert _missing("administrative_penalty", 2, data) == ["licence_actions"]


def test_v2_non_repairable_penalty_must_name_its_legal_basis() -> None:
    data = _example("administrative_penalty", 2)["data"]
    del data["non_repairable_basis"]
    assert _missing("administrative_penalty", 2, data) == ["non_repairable_basis"]
    data["non_repairable"] = False
    assert _missing("administrative_penalty", 2, data) == []


def test_v2_watch_list_entry_requires_a_legal_document() -> None:
    data = _example("watch_list", 2)["data"]
    del data["document_kind"], data["document_no"]
    assert _missing("watch_list", 2, data) == ["document_kind", "document_no"]
    assert _missing("watch_list", 1, data) == []  # v1 stays as it was


def test_v2_broken_commitment_requires_a_legal_document() -> None:
    data = _example("credit_commitment", 2)["data"]
    del data["document_kind"], data["document_no"]
    assert _missing("credit_commitment", 2, data) == ["document_kind", "document_no"]


# --- item 4: the two confiscations ------------------------------------------------------------------------------


def test_v2_confiscation_total_must_equal_the_sum_of_the_two_amounts() -> None:
    data = _example("administrative_penalty", 2)["data"]
    assert rules.confiscation_problems("administrative_penalty", 2, data) == []
    data["CF_NR_WFFF"] = 2.5  # 1.2 + 0.8 = 2
    (problem,) = rules.confiscation_problems("administrative_penalty", 2, data)
    assert (problem.path, problem.code) == ("/data/CF_NR_WFFF", "confiscation_total_mismatch")
    assert "分项金额之和" in problem.message


def test_v2_single_confiscation_total_equals_its_own_amount() -> None:
    data = _example("administrative_penalty", 2)["data"]
    data["CF_CFLB"] = ["罚款", "没收违法所得", "吊销许可证件"]
    del data["confiscated_property"]
    data["CF_NR_WFFF"] = 1.2
    assert rules.confiscation_problems("administrative_penalty", 2, data) == []
    data["CF_NR_WFFF"] = 2
    assert [p.code for p in rules.confiscation_problems("administrative_penalty", 2, data)] == [
        "confiscation_total_mismatch"
    ]


def test_v2_amounts_agree_to_the_sixth_decimal() -> None:
    data = _example("administrative_penalty", 2)["data"]
    data |= {"confiscated_gains": 0.1, "confiscated_property": 0.2, "CF_NR_WFFF": 0.3}  # 0.1 + 0.2 != 0.3 in floats
    assert rules.confiscation_problems("administrative_penalty", 2, data) == []


def test_v2_separate_amount_of_a_kind_not_named_is_refused() -> None:
    data = _example("administrative_penalty", 2)["data"]
    data["CF_CFLB"] = ["罚款", "没收违法所得", "吊销许可证件"]
    (problem,) = rules.confiscation_problems("administrative_penalty", 2, data)
    assert (problem.path, problem.code) == ("/data/confiscated_property", "confiscation_kind_not_named")


def test_v2_licence_action_must_be_a_kind_the_penalty_names() -> None:
    data = _example("administrative_penalty", 2)["data"]
    assert rules.licence_action_problems("administrative_penalty", 2, data) == []
    data["licence_actions"].append({"action": "暂扣", "kind": "营业执照", "name": "营业执照"})
    (problem,) = rules.licence_action_problems("administrative_penalty", 2, data)
    assert (problem.path, problem.code) == ("/data/licence_actions/1/action", "licence_action_not_named")


def test_v1_penalty_naming_both_confiscations_asks_for_the_split() -> None:
    data = _example("administrative_penalty", 1)["data"]
    assert rules.combined_confiscation_warning("administrative_penalty", 1, data) == []
    data["CF_CFLB"] = ["罚款", "没收违法所得", "没收非法财物"]
    (warning,) = rules.combined_confiscation_warning("administrative_penalty", 1, data)
    assert (warning.path, warning.code) == ("/data/CF_NR_WFFF", "confiscation_amounts_combined")
    assert "confiscated_gains" in warning.message
    assert "第 2 版" in warning.message
    assert rules.combined_confiscation_warning("administrative_penalty", 2, data) == []


# --- item 5: adverse records without a legal document ----------------------------------------------------------


@pytest.mark.parametrize(("record_type", "index"), [("watch_list", 0), ("credit_commitment", 1)])
def test_v1_adverse_entry_without_document_number_does_not_count_and_says_why(record_type: str, index: int) -> None:
    data = _example(record_type, 1, index)["data"]
    data.pop("document_no", None)
    (warning,) = rules.undocumented_adverse_warning(record_type, 1, data)
    assert (warning.path, warning.code) == ("/data/document_no", "no_legal_document")
    assert "不作为对该主体的失信依据" in warning.message


def test_v1_entry_with_its_document_number_and_non_adverse_events_get_no_warning() -> None:
    assert rules.undocumented_adverse_warning("watch_list", 1, _example("watch_list", 1)["data"]) == []
    removal = _example("watch_list", 1)["data"] | {"action": "移出"}
    del removal["document_no"]
    assert rules.undocumented_adverse_warning("watch_list", 1, removal) == []
    made = _example("credit_commitment", 1, 0)["data"]
    assert rules.undocumented_adverse_warning("credit_commitment", 1, made) == []


def test_the_other_adverse_types_require_a_document_number_in_v1_already() -> None:
    required = {
        name: set(CATALOGUE.record_types[name].versions[1].schema["required"])
        for name in ("serious_untrustworthy_listing", "judgment_defaulter_listing", "abnormal_operation_listing")
    }
    assert {"document_kind", "document_no"} <= required["serious_untrustworthy_listing"]
    assert {"instrument_kind", "instrument_no"} <= required["judgment_defaulter_listing"]
    assert "document_no" in required["abnormal_operation_listing"]


# --- item 14: the deciding authority --------------------------------------------------------------------------


def test_deciding_authority_outside_the_department_gets_a_warning() -> None:
    penalty = CATALOGUE.record_types["administrative_penalty"]
    data = _example("administrative_penalty", 1)["data"]
    assert rules.authority_warning(penalty, data, AMR) == []
    data["CF_CFJGDM"] = CATALOGUE.departments["TAX"].uscc
    (warning,) = rules.authority_warning(penalty, data, AMR)
    assert (warning.path, warning.code) == ("/data/CF_CFJGDM", "authority_not_department")
    assert AMR.uscc in warning.message


def test_a_sub_office_listed_in_other_codes_is_the_department() -> None:
    assert AMR.other_codes
    penalty = CATALOGUE.record_types["administrative_penalty"]
    data = _example("administrative_penalty", 1)["data"] | {"CF_CFJGDM": AMR.other_codes[0]}
    assert rules.authority_warning(penalty, data, AMR) == []


def test_every_type_that_names_an_authority_says_which_field_it_is() -> None:
    without = {name for name, rt in CATALOGUE.record_types.items() if rt.authority_field is None}
    assert without == {
        "record_correction",
        "record_revocation",
        "sanction_feedback",
        "objection_verification",
        "repair_decision",
    }
    assert CATALOGUE.record_types["administrative_licensing"].authority_field == "XK_XKJGDM"


# --- objections: a 认定 needs an earlier 拟列入告知 -------------------------------------------------------------


def test_listing_without_an_earlier_notice_gets_a_warning() -> None:
    (warning,) = rules.missing_notice_warning(date(2026, 6, 22), [])
    assert (warning.path, warning.code) == ("/data/stage", "no_prior_notice")
    assert "001 L654" in warning.message


def test_listing_after_a_notice_gets_none_and_a_later_notice_does_not_count() -> None:
    assert rules.missing_notice_warning(date(2026, 6, 22), [date(2026, 6, 2)]) == []
    assert rules.missing_notice_warning(date(2026, 6, 22), [date(2026, 6, 22)]) == []
    assert rules.missing_notice_warning(date(2026, 6, 22), [date(2026, 7, 1)]) != []


def test_listing_record_of_unknown_stage_is_given_the_benefit_of_the_doubt() -> None:
    assert rules.missing_notice_warning(date(2026, 6, 22), [None]) == []


# --- item 13: the birth date -----------------------------------------------------------------------------------


def test_birth_date_must_agree_with_a_citizen_id_and_precede_the_decision() -> None:
    person = {"kind": "natural_person", "code": "500101198503121231", "name": "李明"}
    assert rules.birth_date_problems(person | {"birth_date": "1985-03-12"}, "2026-04-22") == []
    assert [p.code for p in rules.birth_date_problems(person | {"birth_date": "1985-03-13"}, "2026-04-22")] == [
        "birth_date_mismatch"
    ]
    passport = {"kind": "natural_person", "code": "E12345678", "name": "李明", "id_type": "护照"}
    assert rules.birth_date_problems(passport | {"birth_date": "2012-05-01"}, "2026-04-22") == []
    assert [p.code for p in rules.birth_date_problems(passport | {"birth_date": "2027-01-01"}, "2026-04-22")] == [
        "birth_date_after_decision"
    ]
    company = {"kind": "legal_person", "code": "91500101MA5U7K3PXJ", "name": "x", "birth_date": "2000-01-01"}
    assert [p.code for p in rules.birth_date_problems(company, "2026-04-22")] == ["birth_date_not_a_person"]


# --- the catalogue's new keys ----------------------------------------------------------------------------------


def _schemas_copy(tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, target)
    return target


def test_a_code_listed_for_two_departments_is_a_catalogue_error(tmp_path: Path) -> None:
    from services.common.catalogue_check import Severity, check_catalogue

    schemas = _schemas_copy(tmp_path)
    path = schemas / "catalogue.yaml"
    text = path.read_text(encoding="utf-8")
    tax = CATALOGUE.departments["TAX"].uscc
    path.write_text(text.replace(f'other_codes: ["{AMR.other_codes[0]}"]', f'other_codes: ["{tax}"]'), "utf-8")
    errors = [p for p in check_catalogue(schemas) if p.severity is Severity.ERROR]
    assert any("already a code of" in p.message for p in errors)


def test_an_authority_field_must_be_a_checked_code_field(tmp_path: Path) -> None:
    from services.common.catalogue import CatalogueError

    schemas = _schemas_copy(tmp_path)
    path = schemas / "catalogue.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("authority_field: CF_CFJGDM", "authority_field: CF_CFJG"), "utf-8")
    with pytest.raises(CatalogueError, match="authority_field"):
        load_catalogue(schemas)
