"""The county's jurisdiction settings, `schemas/jurisdiction.yaml`: the one loader every service uses.

Why one file and one loader: every period the exchange clocks (the department's reporting clock, the
7-working-day 公示, the objection's verification, a repair's acceptance and decision, the withdrawal of a
revoked penalty) has legal effect, and two copies of a number (an environment variable here, a constant
there) drift apart silently. The file is owned by the county DRC and reviewed like the catalogue; a
service reads it at start and refuses to run on a malformed one (unknown or missing keys included).

:class:`ServiceLevels` is what the services import. Grading reads the rest of the file (the default
grading rule set) through :func:`load_jurisdiction_file` too (services/grading/rules/loader.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from services.common.yaml_files import YamlFileError, read_yaml

__all__ = [
    "JURISDICTION_FILE",
    "JurisdictionError",
    "JurisdictionFile",
    "ServiceLevels",
    "load_jurisdiction_file",
    "load_service_levels",
]

JURISDICTION_FILE = "jurisdiction.yaml"


class JurisdictionError(ValueError):
    """The jurisdiction file cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class ServiceLevels:
    """Every period the exchange applies, as the county set it (DOMAIN §4, §9)."""

    reporting_days: int
    """A department reports a record within this many calendar days of its decision (000 L103); a period
    whose last day is not a working day ends on the next working day (民法典 Art. 203)."""
    disclosure_working_days: int
    """双公示 and the other administrative acts are published within this many working days (001 L319)."""
    objection_verification_working_days: int
    """The provider answers an objection within this many working days of its filing (000 L113)."""
    repair_accept_working_days: int
    """The deciding department accepts or refuses a repair application within this many working days."""
    repair_decide_working_days: int
    """… and decides within this many working days of the application (36号令)."""
    repair_extension_working_days: int
    """… plus this many when it extends the period with notice (延长办理期限); 0 allows no extension."""
    withdrawal_working_days: int
    """A revoked or changed penalty leaves publication within this many working days (行政处罚法 Art. 48)."""


@dataclass(frozen=True, slots=True)
class JurisdictionFile:
    jurisdiction: str
    name: str
    grading_rule_set: str
    service_levels: ServiceLevels


_TOP_KEYS = frozenset({"jurisdiction", "name", "grading_rule_set", "service_levels"})
_MINIMUM = {name: 1 for name in ServiceLevels.__dataclass_fields__} | {"repair_extension_working_days": 0}


def load_jurisdiction_file(path: Path) -> JurisdictionFile:
    """Read and strictly check `path`; raises :class:`JurisdictionError` naming the file and the key."""
    try:
        document = read_yaml(path)
    except YamlFileError as exc:
        raise JurisdictionError(str(exc)) from exc
    top = _mapping(path, document, "", _TOP_KEYS)
    raw_levels = _mapping(path, top["service_levels"], "service_levels", frozenset(_MINIMUM))
    levels = ServiceLevels(
        **{name: _integer(path, raw_levels[name], f"service_levels.{name}", low) for name, low in _MINIMUM.items()}
    )
    return JurisdictionFile(
        jurisdiction=_text(path, top["jurisdiction"], "jurisdiction"),
        name=_text(path, top["name"], "name"),
        grading_rule_set=_text(path, top["grading_rule_set"], "grading_rule_set"),
        service_levels=levels,
    )


@cache
def load_service_levels(schemas_dir: Path) -> ServiceLevels:
    """The service levels of `<schemas_dir>/jurisdiction.yaml` (read once per process and directory)."""
    return load_jurisdiction_file(schemas_dir / JURISDICTION_FILE).service_levels


def _mapping(path: Path, value: Any, key: str, expected: frozenset[str]) -> dict[str, Any]:
    where = key or "(top level)"
    if not isinstance(value, dict):
        raise JurisdictionError(f"{path}: {where}: expected a mapping, got {type(value).__name__}")
    for name in sorted(expected - value.keys()):
        raise JurisdictionError(f"{path}: {_join(key, name)}: missing")
    for name in sorted(map(str, set(value) - expected)):
        raise JurisdictionError(f"{path}: {_join(key, name)}: unknown key (allowed: {', '.join(sorted(expected))})")
    return value


def _text(path: Path, value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise JurisdictionError(f"{path}: {key}: expected a non-empty string")
    return value


def _integer(path: Path, value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise JurisdictionError(f"{path}: {key}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name
