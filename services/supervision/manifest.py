"""The supervision service's manifest (services/common/manifest.py): the record topics and the grades
grading announced (the sampling strata). The audit replay rebuilds its derived tables from them, and its
plans from their published `plan_drawn` events (a department's act through the API reaches the topics only
as that event), so the replay also reads `outcomes.supervision`."""

from __future__ import annotations

from services.common.manifest import Manifest, TableSpec

MANIFEST = Manifest(
    name="supervision",
    schema="supervision",
    outcomes=("outcomes.grades",),
    replay_seeds=("outcomes.supervision",),
    tables=(
        # grades: the event id is whichever grade event arrived last with the same date, not compared
        TableSpec(
            "supervision",
            "grades",
            ("code", "rule_set"),
            ("grade", "level", "effective_level", "subject_kind", "subject_name", "since"),
            subject="code",
        ),
        TableSpec(
            "supervision",
            "obligations",
            ("code", "department", "kind", "since", "due", "record_ids"),
            ("basis", "done_on", "done_record", "level"),
            subject="code",
        ),
        TableSpec(
            "supervision",
            "consequences",
            ("code", "department", "scale", "kind", "record_id", "valid_from"),
            ("grade", "text", "valid_until", "source"),
            subject="code",
        ),
        TableSpec(
            "supervision",
            "proposals",
            ("proposal_id",),
            ("code", "department", "kind", "title", "candidate_from", "evidence", "details", "subject_name"),
            subject="code",
        ),
        TableSpec(
            "supervision",
            "composite",
            ("code", "valid_from"),
            ("valid_until", "score", "band", "items"),
            subject="code",
        ),
        # plans: created_at and the stored published body are the live act's; what was drawn is compared
        TableSpec(
            "supervision",
            "plans",
            ("plan_id",),
            (
                "department",
                "plan_name",
                "matter",
                "rule_set",
                "period_from",
                "period_to",
                "seed",
                "population_size",
                "drawn_count",
            ),
            subject="plan_id",
        ),
        TableSpec("supervision", "plan_subjects", ("plan_id", "code"), ("stratum", "inspectors"), subject="code"),
    ),
)
