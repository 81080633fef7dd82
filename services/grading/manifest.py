"""The grading service's manifest (services/common/manifest.py): it consumes every record topic."""

from __future__ import annotations

from services.common.manifest import Manifest, TableSpec

MANIFEST = Manifest(
    name="grading",
    schema="grading",
    tables=(
        # grading: computed_on is the processing date, not part of the grade
        TableSpec(
            "grading",
            "grades",
            ("code", "rule_set"),
            (
                "rule_set_version",
                "grade",
                "since",
                "next_review",
                "review_on",
                "supervision_level",
                "reason",
                "subject_kind",
                "explanation",
            ),
            subject="code",
        ),
    ),
)
