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
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


PART_BYTES = 256 * 1024
"""The most population and drawn entries one published part carries (JSON bytes): well under Kafka's 1 MB
default message size whatever the roster, so a plan of any size is published whole."""
_SLICED = ("population", "drawn")


def _size(value: object) -> int:
    if isinstance(value, str) and value.isalnum() and value.isascii():  # a credit code: no escaping
        return len(value) + 2
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def split_published(published: Mapping[str, Any], part_bytes: int = PART_BYTES) -> list[dict[str, Any]]:
    """The plan event's data as parts: each part repeats the plan (id, seed, ratios, sizes, roster …) with
    `part` / `parts` and carries a slice of the population (stratum → codes) and of the drawn list, in
    order. One part when everything fits. `assemble` puts them back together."""
    header = {k: v for k, v in published.items() if k not in _SLICED}
    population = published["population"]
    drawn = published["drawn"]
    if not isinstance(population, Mapping) or not isinstance(drawn, list):
        raise ValueError("not a plan_drawn event: population and drawn are needed")
    slices: list[dict[str, Any]] = []
    current: dict[str, Any] = {"population": {}, "drawn": []}
    used = 0
    budget = max(part_bytes - _size(header), part_bytes // 4)  # each part repeats the plan's header

    def add(size: int) -> None:
        nonlocal current, used
        if used + size > budget and (current["population"] or current["drawn"]):
            slices.append(current)
            current, used = {"population": {}, "drawn": []}, 0
        used += size

    for stratum, codes in population.items():
        for code in codes:
            add(_size(code) + 1)
            current["population"].setdefault(stratum, []).append(code)
    for entry in drawn:
        add(_size(entry) + 1)
        current["drawn"].append(entry)
    slices.append(current)
    return [{**header, "part": n, "parts": len(slices), **s} for n, s in enumerate(slices, start=1)]


def assemble(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One plan event's data from all its parts (any order); ValueError if one is missing or they disagree."""
    if not parts:
        raise ValueError("no parts")
    ordered = sorted(parts, key=lambda p: int(p.get("part") or 1))
    expected = int(ordered[0].get("parts") or 1)
    if [int(p.get("part") or 1) for p in ordered] != list(range(1, expected + 1)):
        raise ValueError(f"plan {ordered[0].get('plan_id')}: parts {[p.get('part') for p in ordered]} of {expected}")
    header = {k: v for k, v in ordered[0].items() if k not in (*_SLICED, "part", "parts")}
    population: dict[str, list[str]] = {}
    drawn: list[Any] = []
    for p in ordered:
        if {k: v for k, v in p.items() if k not in (*_SLICED, "part", "parts")} != header:
            raise ValueError(f"plan {header.get('plan_id')}: part {p.get('part')} describes another plan")
        for stratum, codes in dict(p.get("population") or {}).items():
            population.setdefault(stratum, []).extend(codes)
        drawn.extend(list(p.get("drawn") or []))
    return {**header, "population": population, "drawn": drawn}
