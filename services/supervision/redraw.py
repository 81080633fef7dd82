"""`exchange supervision redraw`: an auditor re-draws published 双随机 plans from `outcomes.supervision`
(read from offset 0, no consumer group) and checks that each draw is the one its seed and population give."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from services.audit.topic_reader import read_all
from services.common.kafka import KafkaAuth
from services.common.settings import CommonSettings
from services.supervision.rules.sampling import assemble, redraw


@dataclass(frozen=True, slots=True)
class Checked:
    plan_id: str
    department: str
    drawn: int
    population_size: int
    matches: bool
    parts: int = 1


async def check_plans(settings: CommonSettings, plan_id: str | None = None) -> list[Checked]:
    """Each plan's parts (a large plan is published in several) are put together before the re-draw; a plan
    with a part missing does not match."""
    parts: dict[str, list[dict[str, Any]]] = {}
    topic = settings.topic("outcomes.supervision")
    async for message in read_all(settings.kafka_bootstrap, [topic], auth=KafkaAuth.from_settings(settings)):
        data = orjson.loads(message.value or b"{}")
        if data.get("event") != "plan_drawn" or (plan_id is not None and data.get("plan_id") != plan_id):
            continue
        found = parts.setdefault(str(data["plan_id"]), [])
        if all(p.get("part") != data.get("part") for p in found):  # a relay's repeat counts once
            found.append(data)
    out: list[Checked] = []
    for plan, published in parts.items():
        try:
            data = assemble(published)
            matches = redraw(data) == data.get("drawn")
        except ValueError:
            data, matches = published[0], False
        out.append(
            Checked(
                plan_id=plan,
                department=str(data.get("department")),
                drawn=len(data.get("drawn") or []),
                population_size=int(data.get("population_size") or 0),
                matches=matches,
                parts=len(published),
            )
        )
    return out
