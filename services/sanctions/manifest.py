"""The sanctions service's manifest (services/common/manifest.py): the record topics, the grades grading
announced and the objections publish announced."""

from __future__ import annotations

from services.common.manifest import Manifest, TableSpec

MANIFEST = Manifest(
    name="sanctions",
    schema="sanctions",
    outcomes=("outcomes.grades", "outcomes.objections"),
    tables=(
        # sanctions: the list of emitted event ids and update times depend on the processing history
        TableSpec(
            "sanctions",
            "cases",
            ("case_id",),
            (
                "subject_code",
                "subject_kind",
                "subject_name",
                "nature",
                "trigger_kind",
                "trigger_department",
                "trigger_record_id",
                "since",
                "until",
                "state",
                "state_since",
                "state_reason",
                "wrongful",
                "objection_ids",
                "departments",
                "measures",
                "measure_list_version",
                "review_on",
            ),
        ),
        TableSpec(
            "sanctions",
            "instructions",
            ("instruction_id",),
            (
                "case_id",
                "subject_code",
                "department",
                "measures",
                "persons",
                "content_hash",
                "feedback_state",
                "feedback",
                "unanswered_measures",
            ),
        ),
        TableSpec(
            "sanctions",
            "related_persons",
            ("person_code", "role", "case_id"),
            ("subject_code", "name", "id_type", "measure_ids"),
        ),
    ),
)
