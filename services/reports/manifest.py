"""The reports service's manifest (services/common/manifest.py): the record topics and the outcomes a credit
view gathers (services/reports/handlers.py). Its view is a pure function of those events; the audit replay
does not rebuild it yet (tests compare a report's content before and after a replay instead)."""

from __future__ import annotations

from services.common.manifest import Manifest, ReplaySeed
from services.reports.handlers import OUTCOME_TOPICS

MANIFEST = Manifest(name="reports", schema="reports", outcomes=OUTCOME_TOPICS, tables=(), replay=ReplaySeed.NONE)
