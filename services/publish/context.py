"""What the publish service's handlers and endpoints share, built once in the lifespan.

The working-day calendar is re-read when its overrides file changes (checked on each tick), so a newly
announced year reaches provisional deadlines without a restart (DOMAIN §4).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.calendar import CalendarOverridesError, WorkingDayCalendar
from services.common.catalogue import Catalogue
from services.common.clock import Clock, shanghai_date
from services.publish.public_cache import PublicCache
from services.publish.rules import PublicityRules
from services.publish.rules.derive import DisclosureRules
from services.publish.settings import PublishSettings
from services.publish.store import SCHEMA, PublicReads

log = logging.getLogger(__name__)


@dataclass
class PublishContext:
    engine: AsyncEngine
    settings: PublishSettings
    clock: Clock
    catalogue: Catalogue
    publicity: PublicityRules
    calendar: WorkingDayCalendar
    reads: PublicReads
    schema: str = SCHEMA
    """Where its store works: ``publish``, or a scratch schema when `exchange audit replay` rebuilds it."""
    wake: Callable[[], None] = lambda: None
    """Lets the outbox relay send what a transaction outside the consumer loop has just committed."""
    public_cache: PublicCache = field(default_factory=lambda: PublicCache(max_bytes=0))
    """Anonymous public answers (off unless the app turns it on: ``PUBLISH_PUBLIC_CACHE``)."""
    _overrides_stamp: float | None = field(default=None, repr=False)

    @property
    def rules(self) -> DisclosureRules:
        return DisclosureRules(self.catalogue, self.publicity, self.calendar)

    @property
    def overrides_path(self) -> Path:
        return self.settings.schemas_dir / "calendar" / "overrides.yaml"

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return shanghai_date(self.clock.now())

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    def refresh_calendar(self) -> bool:
        """Re-read the calendar when its overrides file changed; True when a new calendar is in use.

        A malformed file is logged and the calendar in use is kept (deadlines must not disappear).
        """
        try:
            stamp = self.overrides_path.stat().st_mtime
        except OSError:
            return False
        if self._overrides_stamp is None:
            self._overrides_stamp = stamp
            return False
        if stamp == self._overrides_stamp:
            return False
        self._overrides_stamp = stamp
        try:
            self.calendar = WorkingDayCalendar.load(self.overrides_path)
        except (CalendarOverridesError, OSError) as exc:
            log.error("calendar overrides not reloaded; the previous calendar stays in use", extra={"error": str(exc)})
            return False
        log.info("working-day calendar reloaded", extra={"file": str(self.overrides_path)})
        return True
