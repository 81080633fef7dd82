"""重错码 detection (003 L47, DOMAIN §2), pure: one code carrying different names, one name carrying
different codes. Warnings for the registration authority to verify, never corrections.

Names change lawfully (变更登记): a code's names are compared with every name its registration records
ever gave it, so a renamed company is not flagged; a name another department reports that the
registration never gave is. Two codes whose latest registered names are the same (and neither
deregistered) are flagged as one name with different codes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Registered:
    code: str
    name: str
    event: str
    decided_on: date
    record_id: str


@dataclass(frozen=True, slots=True)
class Reported:
    code: str
    name: str
    department: str
    record_id: str


@dataclass(frozen=True, slots=True)
class CodeWarning:
    kind: str  # one_code_many_names | one_name_many_codes
    key: str
    """The code (one_code_many_names) or the name (one_name_many_codes)."""
    values: tuple[str, ...]
    """The other names, or the codes."""
    record_ids: tuple[str, ...]
    message: str


def detect(registrations: Sequence[Registered], reported: Sequence[Reported]) -> list[CodeWarning]:
    warnings: list[CodeWarning] = []
    registered_names: dict[str, set[str]] = {}
    latest: dict[str, Registered] = {}
    for r in sorted(registrations, key=lambda r: (r.decided_on, r.record_id)):
        registered_names.setdefault(r.code, set()).add(r.name)
        latest[r.code] = r
    names_of: dict[str, dict[str, list[str]]] = {}
    for rep in reported:
        names_of.setdefault(rep.code, {}).setdefault(rep.name, []).append(rep.record_id)
    for code, names in sorted(names_of.items()):
        known = registered_names.get(code)
        strange = {n: ids for n, ids in names.items() if known is not None and n not in known}
        if known is None and len(names) > 1:
            strange = names
        if strange:
            ids = tuple(sorted(i for v in strange.values() for i in v))
            listed = "、".join(sorted(strange))
            warnings.append(
                CodeWarning(
                    "one_code_many_names",
                    code,
                    tuple(sorted(strange)),
                    ids,
                    f"代码 {code} 出现登记以外的名称：{listed}，请登记机关核实",
                )
            )
    by_name: dict[str, list[Registered]] = {}
    for r in latest.values():
        if r.event != "注销":
            by_name.setdefault(r.name, []).append(r)
    for name, regs in sorted(by_name.items()):
        if len(regs) > 1:
            codes = tuple(sorted(r.code for r in regs))
            warnings.append(
                CodeWarning(
                    "one_name_many_codes",
                    name,
                    codes,
                    tuple(sorted(r.record_id for r in regs)),
                    f"名称「{name}」对应多个代码：{'、'.join(codes)}，请登记机关核实",
                )
            )
    return warnings
