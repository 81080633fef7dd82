"""The bridge's manifest (services/common/manifest.py): every outcome topic, never a record topic — the
unified feed, webhooks and the province carry outcomes only. Delivery state is not derived state: the
audit replay does not rebuild it."""

from __future__ import annotations

from services.common.manifest import Manifest, ReplaySeed

OUTCOME_TOPICS = (
    "outcomes.grades",
    "outcomes.sanctions",
    "outcomes.disclosures",
    "outcomes.objections",
    "outcomes.repairs",
    "outcomes.lists",
    "outcomes.supervision",
)

MANIFEST = Manifest(
    name="bridge", schema="bridge", outcomes=OUTCOME_TOPICS, records=False, tables=(), replay=ReplaySeed.NONE
)
