"""双随机 draws, pure and reproducible (issue 22): anyone holding the published plan event (seed and the
population of each stratum) re-draws exactly the same subjects and inspector pairs.

The draw. Subjects are stratified by ``<grade>/<level>``; a stratum of N subjects with ratio r gives
ceil(r·N) of them (a non-empty stratum with r > 0 always gives at least one). Within a stratum every
subject gets the key SHA-256("<seed>|<stratum>|<code>") and the smallest keys are drawn: the order of the
population list does not matter, no subject can be favoured without changing the published seed, and no
random-number library's version can change the result.

Inspectors (随机选派): the roster is ordered by SHA-256("<seed>|inspector|<name>") and cut into
consecutive pairs; the i-th drawn subject (in draw order) gets pair i mod the number of pairs.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

UNGRADED = "-"


@dataclass(frozen=True, slots=True)
class Member:
    code: str
    grade: str | None
    level: str | None

    @property
    def stratum(self) -> str:
        return f"{self.grade or UNGRADED}/{self.level or UNGRADED}"


@dataclass(frozen=True, slots=True)
class Drawn:
    code: str
    stratum: str
    inspectors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Draw:
    seed: str
    population: dict[str, list[str]]
    """stratum → its subjects' codes, sorted."""
    sizes: dict[str, int]
    """stratum → how many are drawn."""
    drawn: list[Drawn]

    @property
    def population_size(self) -> int:
        return sum(len(codes) for codes in self.population.values())


def _key(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def stratify(members: Iterable[Member]) -> dict[str, list[str]]:
    strata: dict[str, set[str]] = {}
    for m in members:
        strata.setdefault(m.stratum, set()).add(m.code)
    return {s: sorted(codes) for s, codes in sorted(strata.items())}


def stratum_size(count: int, ratio: float) -> int:
    if count == 0 or ratio <= 0:
        return 0
    # Rounded to 1e-9 first: 0.1·30 is 3.0000000000000004 in binary floating point, and must draw 3.
    return min(count, max(1, math.ceil(round(ratio * count, 9))))


def draw(
    population: Mapping[str, Sequence[str]],
    ratio: Callable[[str], float],
    seed: str,
    roster: Sequence[str] = (),
) -> Draw:
    """Draw from `population` (stratum → codes) with `ratio(stratum)`; pair inspectors from `roster`."""
    strata = {s: sorted(set(codes)) for s, codes in sorted(population.items())}
    sizes = {s: stratum_size(len(codes), ratio(s)) for s, codes in strata.items()}
    chosen: list[tuple[str, str]] = []
    for stratum, codes in strata.items():
        ranked = sorted(codes, key=lambda code: _key(seed, stratum, code))
        chosen += [(stratum, code) for code in sorted(ranked[: sizes[stratum]])]
    pairs = inspector_pairs(roster, seed)
    drawn = [
        Drawn(code=code, stratum=stratum, inspectors=pairs[i % len(pairs)] if pairs else ())
        for i, (stratum, code) in enumerate(chosen)
    ]
    return Draw(seed=seed, population=strata, sizes=sizes, drawn=drawn)


def inspector_pairs(roster: Sequence[str], seed: str) -> list[tuple[str, ...]]:
    """Consecutive pairs of the seeded order; an odd inspector out joins the last pair (two at least, 001 L617)."""
    ordered = sorted(set(roster), key=lambda name: _key(seed, "inspector", name))
    if len(ordered) < 2:
        return []
    pairs = [tuple(ordered[i : i + 2]) for i in range(0, len(ordered) - 1, 2)]
    if len(ordered) % 2:
        pairs[-1] = (*pairs[-1], ordered[-1])
    return pairs


def redraw(published: Mapping[str, object]) -> list[dict[str, object]]:
    """An auditor's re-draw from a published `cn.credit.supervision.plan_drawn` event's data: the drawn
    list it must match (code, stratum, inspectors), computed from the seed, strata and ratios it carries."""
    population = published["population"]
    ratios = published["ratios"]
    roster = published.get("inspector_roster") or []
    if not isinstance(population, dict) or not isinstance(ratios, dict) or not isinstance(roster, list):
        raise ValueError("not a plan_drawn event: population, ratios and inspector_roster are needed")
    result = draw(population, lambda s: float(ratios[s]), str(published["seed"]), [str(r) for r in roster])
    return [{"code": d.code, "stratum": d.stratum, "inspectors": list(d.inspectors)} for d in result.drawn]
