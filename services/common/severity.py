"""The severity tier (轻微 / 一般 / 严重, 36号令) of an administrative penalty, from the table in
``schemas/rulesets/publicity/severity.yaml`` (which explains each step). Pure: no clock, no I/O (except
:func:`load_severity_table`, called at start-up).

One rule for the whole exchange: publish derives publicity periods from it, grading (benxi-2017) reads
轻微 penalties as too light to make a subject C (issue 15). ``services.publish.rules`` re-exports the names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from services.common.records import AcceptedRecord
from services.common.vocabulary import RecordTypeName
from services.common.yaml_files import read_yaml

LISTING = RecordTypeName.SERIOUS_UNTRUSTWORTHY_LISTING
SUBJECT_KINDS = frozenset({"natural_person", "individual_business", "legal_person"})
_KIND_OF_CATEGORY = {
    "法人及非法人组织": "legal_person",
    "自然人": "natural_person",
    "个体工商户": "individual_business",
}


class Severity(StrEnum):
    """失信严重程度 (36号令), in ascending order."""

    MINOR = "轻微"
    GENERAL = "一般"
    SERIOUS = "严重"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Threshold(_Model):
    larger: Decimal = Field(gt=0)
    huge: Decimal = Field(gt=0)


class AmountRule(_Model):
    kinds: frozenset[str]
    thresholds: dict[str, Threshold]
    """Subject kind (envelope ``subject.kind``) → thresholds; all of :data:`SUBJECT_KINDS` required."""

    def tier_of(self, amount: Decimal, subject_kind: str) -> tuple[Severity, Threshold]:
        limits = self.thresholds.get(subject_kind, self.thresholds["legal_person"])
        if amount >= limits.huge:
            return Severity.SERIOUS, limits
        return (Severity.GENERAL if amount >= limits.larger else Severity.MINOR), limits


class Marker(_Model):
    field: str
    contains: str = Field(min_length=1)


class SimplifiedProcedure(_Model):
    tier: Severity
    allowed_kinds: frozenset[str]
    markers: tuple[Marker, ...] = ()

    def marker_in(self, data: Mapping[str, Any]) -> Marker | None:
        return next((m for m in self.markers if m.contains in str(data.get(m.field, ""))), None)


class SeverityTable(_Model):
    kind: Literal["severity_table"]
    id: str
    version: PositiveInt
    record_type: str
    tiers: tuple[Severity, ...]
    default: Severity
    serious_listing: Severity
    penalty_kinds: dict[str, Severity]
    amounts: dict[str, AmountRule]
    simplified_procedure: SimplifiedProcedure

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.tiers != tuple(Severity):
            raise ValueError(f"tiers must be {[str(s) for s in Severity]} in this order")
        for name, rule in self.amounts.items():
            if set(rule.thresholds) != SUBJECT_KINDS or any(t.larger > t.huge for t in rule.thresholds.values()):
                raise ValueError(f"{name}: thresholds for exactly {sorted(SUBJECT_KINDS)}, each larger <= huge")
        return self


@dataclass(frozen=True, slots=True)
class SeverityResult:
    severity: Severity
    reasons: tuple[str, ...]


def subject_kind_of(record: AcceptedRecord) -> str:
    """Envelope subject.kind, else the data's 行政相对人类别, else legal_person."""
    kind = record.record.get("subject", {}).get("kind")
    if isinstance(kind, str):
        return kind
    return _KIND_OF_CATEGORY.get(str(record.data.get("CF_XDR_LB") or record.data.get("XK_XDR_LB")), "legal_person")


def listed_document_numbers(records: Iterable[AcceptedRecord]) -> frozenset[str]:
    """Documents a serious-untrustworthy 认定 rests on (pass the subject's effective, unrevoked records)."""
    return frozenset(
        str(r.data["underlying_document_no"])
        for r in records
        if r.record_type == LISTING and r.data.get("stage") == "认定" and r.data.get("underlying_document_no")
    )


def severity_of(
    record: AcceptedRecord, table: SeverityTable, *, listed_documents: frozenset[str] = frozenset()
) -> SeverityResult:
    """The tier of a penalty from its effective data: the worst of its kinds, amounts and listing."""
    if record.record_type != table.record_type:
        raise ValueError(f"severity applies to {table.record_type}, not {record.record_type}")
    data, subject_kind = record.data, subject_kind_of(record)
    kinds = [k for k in data.get("CF_CFLB", []) if isinstance(k, str)]
    found: list[tuple[Severity, str]] = []
    for kind in kinds:
        tier = table.penalty_kinds.get(kind)
        found.append((tier or table.default, f"CF_CFLB {kind} → {tier or table.default}{'' if tier else ' (unknown)'}"))
    for name, rule in table.amounts.items():
        if not rule.kinds.intersection(kinds):
            continue
        value = data.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            found.append((table.default, f"{name} missing → {table.default}"))
            continue
        tier, limits = rule.tier_of(Decimal(str(value)), subject_kind)
        limits_text = f"{subject_kind}: 较大 ≥ {limits.larger}, 巨额 ≥ {limits.huge}"
        found.append((tier, f"{name} {value} 万元 ({limits_text}) → {tier}"))
    if not found:
        found.append((table.default, f"no 处罚类别 → {table.default}"))
    tier, reasons = max((t for t, _ in found), key=lambda s: s.rank), [r for _, r in found]
    procedure = table.simplified_procedure
    marker = procedure.marker_in(data)
    if marker is not None and set(kinds) <= procedure.allowed_kinds:
        tier = procedure.tier
        reasons.append(f"简易程序 ({marker.field} contains {marker.contains}) → {tier}")
    elif marker is not None:
        reasons.append(f"简易程序 marker in {marker.field} ignored: kinds beyond {sorted(procedure.allowed_kinds)}")
    if data.get("CF_WSH") in listed_documents:
        tier = max(tier, table.serious_listing, key=lambda s: s.rank)
        reasons.append(f"严重失信主体名单 rests on {data['CF_WSH']} → {table.serious_listing}")
    return SeverityResult(tier, tuple(reasons))


def load_severity_table(path: Path) -> SeverityTable:
    """The severity table in ``path`` (raises ValueError naming the file when it cannot be used)."""
    try:
        return SeverityTable.model_validate(read_yaml(path))
    except ValueError as exc:
        raise ValueError(f"{path}: not a usable severity table: {exc}") from exc
