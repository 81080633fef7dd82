"""What the workbench pages need, built once by the app's lifespan."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.catalogue import Catalogue, RecordType, TypeVersion
from services.common.clock import Clock, shanghai_date
from services.workbench.client import Services
from services.workbench.settings import WorkbenchSettings


@dataclass
class WorkbenchContext:
    engine: AsyncEngine
    settings: WorkbenchSettings
    clock: Clock
    catalogue: Catalogue
    services: Services

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return shanghai_date(self.clock.now())

    def version_in_force(self, record_type: RecordType) -> TypeVersion:
        """The newest version of the type in force today: what a template and a form are built from."""
        today = self.today()
        candidates = [v for v in record_type.versions.values() if v.effective_from <= today]
        return max(candidates or record_type.versions.values(), key=lambda v: v.version)

    def example(self, record_type: RecordType, version: int) -> dict[str, Any] | None:
        path = self.settings.schemas_dir / "examples" / f"{record_type.name}.json"
        if not path.exists():
            return None
        examples = json.loads(path.read_text(encoding="utf-8"))
        chosen = [e for e in examples if e.get("version") == version] or examples
        return dict(chosen[0]) if chosen else None
