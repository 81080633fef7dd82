"""The publish service's manifest (services/common/manifest.py): the record topics; its cases are filed on its
own portal, so the replay seeds them from their *filed* events on the outcome topics."""

from __future__ import annotations

from services.common.manifest import Manifest, TableSpec

MANIFEST = Manifest(
    name="publish",
    schema="publish",
    replay_seeds=("outcomes.objections", "outcomes.repairs"),
    tables=(
        # publish: published_at / withdrawn_at / version record when the live service happened to act; whether
        # a record left publication or was never on it ('withdrawn' / 'withheld') depends on whether the live
        # service saw it inside its window, so what is compared is whether it is on the portal now.
        TableSpec(
            "publish",
            "disclosures",
            ("public_id",),
            (
                "department",
                "record_id",
                "record_type",
                "subject_code",
                "subject_name",
                "decision_date",
                "due_date",
                "due_provisional",
                "exempt",
                "reason",
                "publicity_until",
                "withdraw_on",
                "objection_pending",
            ),
            computed=(("published", "state = 'published'"), ("public_body", "content::jsonb - 'published_at'")),
        ),
        # Cases filed on the portal: their filing comes from the outcome topics (reason, contact, commitment
        # never leave the service), their answers from the record topics; escalation times are tick times.
        TableSpec(
            "publish",
            "objections",
            ("id",),
            (
                "public_id",
                "department",
                "record_id",
                "subject_code",
                "state",
                "filed_at",
                "due_date",
                "due_provisional",
                "answered_at",
                "outcome",
                "explanation",
                "verification_id",
                "resolved_at",
                "resolved_by",
            ),
        ),
        TableSpec(
            "publish",
            "repairs",
            ("id",),
            (
                "public_id",
                "department",
                "record_id",
                "subject_code",
                "state",
                "filed_at",
                "accept_due",
                "decide_due",
                "due_provisional",
                "accepted_at",
                "extended_at",
                "decided_at",
                "decision",
                "explanation",
                "decision_record_ids",
            ),
            # Not compared: whether a step was escalated depends on whether a tick ran before a late answer.
        ),
    ),
)
