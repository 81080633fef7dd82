"""Every consuming service's manifest, in the order the exchange starts them (services/common/manifest.py).

A new consuming service adds its manifest here; topics, ACLs, subscriptions, dead letters, re-drive and the
audit replay follow from it."""

from __future__ import annotations

from services.bridge.manifest import MANIFEST as BRIDGE
from services.common.manifest import Manifest, by_name
from services.grading.manifest import MANIFEST as GRADING
from services.publish.manifest import MANIFEST as PUBLISH
from services.reports.manifest import MANIFEST as REPORTS
from services.sanctions.manifest import MANIFEST as SANCTIONS
from services.supervision.manifest import MANIFEST as SUPERVISION

MANIFESTS: tuple[Manifest, ...] = (GRADING, SANCTIONS, PUBLISH, SUPERVISION, REPORTS, BRIDGE)
BY_NAME = by_name(MANIFESTS)
