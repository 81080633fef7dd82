"""The supervision service's manifest (services/common/manifest.py): the record topics and the grades
grading announced (the sampling strata). Not rebuilt by the audit replay yet: plans are re-drawn from their
published events instead (`exchange supervision redraw`)."""

from __future__ import annotations

from services.common.manifest import Manifest, ReplaySeed

MANIFEST = Manifest(
    name="supervision", schema="supervision", outcomes=("outcomes.grades",), tables=(), replay=ReplaySeed.NONE
)
