"""USCC (GB 32100-2015) and citizen ID (GB 11643) checks, masking and the minor test (DOMAIN §2, §8)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.identifiers import (
    CITIZEN_ID_WEIGHTS,
    USCC_ALPHABET,
    USCC_WEIGHTS,
    IdentifierCheck,
    birth_date_of,
    check_citizen_id,
    check_uscc,
    citizen_id_check_character,
    is_minor,
    mask_id_number,
    mask_person_name,
    org_code_check_character,
    uscc_check_character,
)

VALID_USCC = ["91110000600037341L", "9144030071526726XG", "92340603MA2PBMCG0U"]
VALID_CITIZEN_ID = "11010519491231002X"


def _codes(check: IdentifierCheck) -> tuple[list[str], list[str]]:
    return [p.code for p in check.errors], [p.code for p in check.warnings]


def _with_check(first17: str) -> str:
    return first17 + uscc_check_character(first17)


def _citizen(first17: str) -> str:
    return first17 + citizen_id_check_character(first17)


# --- USCC --------------------------------------------------------------------------------------------


def test_uscc_weights_are_powers_of_3_mod_31() -> None:
    assert tuple(pow(3, i, 31) for i in range(17)) == USCC_WEIGHTS


@pytest.mark.parametrize("code", VALID_USCC)
def test_valid_uscc_has_no_errors_and_no_warnings(code: str) -> None:
    assert check_uscc(code) == IdentifierCheck()
    assert uscc_check_character(code[:17]) == code[17]


def test_wrong_uscc_check_character_names_the_expected_one() -> None:
    result = check_uscc("91110000600037341X")
    assert [(p.code, p.message) for p in result.errors] == [
        (
            "uscc_check_character",
            "统一社会信用代码校验位错误：应为 L，实为 X (USCC check character should be L, got X)",
        )
    ]
    assert not result.ok


def test_check_value_31_is_written_as_zero() -> None:
    first16 = "9111000060003734"
    partial = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first16, USCC_WEIGHTS, strict=False))
    last = USCC_ALPHABET[-partial * pow(USCC_WEIGHTS[16], -1, 31) % 31]  # makes Σ ≡ 0 (mod 31)
    assert uscc_check_character(first16 + last) == "0"


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        pytest.param("91110000600037341", "应为 18 位，实为 17 位", id="17-characters"),
        pytest.param("91110000600037341LL", "got 19", id="19-characters"),
        pytest.param("", "got 0", id="empty"),
        pytest.param(" 91110000600037341L", "remove leading/trailing white space", id="leading-space"),
    ],
)
def test_uscc_of_wrong_length_is_rejected(code: str, fragment: str) -> None:
    result = check_uscc(code)
    assert _codes(result) == (["uscc_length"], [])
    assert fragment in result.errors[0].message


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        pytest.param("9111000060003734IL", "position 17: character 'I' is not allowed; the letters I, O", id="I"),
        pytest.param("91110000600037341O", "第 18 位字符 'O' 不允许（代码不使用 I、O、S、V、Z）", id="O"),
        pytest.param("91110000600037341l", "lower-case letter, use upper-case L", id="lowercase-check"),
        pytest.param("9111000060003734１L", "full-width character, use 1", id="full-width-digit"),
        pytest.param("91110000-600037341", "position 9: character '-' is not allowed)", id="hyphen"),
    ],
)
def test_character_outside_the_alphabet_is_rejected_naming_position_and_character(code: str, fragment: str) -> None:
    result = check_uscc(code)
    assert _codes(result) == (["uscc_charset"], [])
    assert fragment in result.errors[0].message


def test_lowercase_uscc_is_rejected_with_an_upper_case_hint_not_normalised() -> None:
    """Decision: reject, so the source system gets fixed; the hint makes the fix obvious."""
    result = check_uscc("92340603ma2pbmcg0u")
    assert {p.code for p in result.errors} == {"uscc_charset"}
    assert len(result.errors) == 8  # m a p b m c g u
    assert "use upper-case M" in result.errors[0].message


def test_any_allowed_characters_in_positions_1_and_2_are_accepted() -> None:
    for head in ("Y1", "A1", "N3", "51", "11"):
        assert check_uscc(_with_check(head + "110000600037341")).ok


@pytest.mark.parametrize(
    ("first17", "warnings"),
    [
        pytest.param("91990000600037341", ["uscc_division_unknown"], id="unknown-province-99"),
        pytest.param("91A10000600037341", ["uscc_division_unknown"], id="letter-in-division"),
        pytest.param("11100000600037341", [], id="central-level-100000"),
        pytest.param("91110108600037341", [], id="known-province-any-county"),
        pytest.param("91110000600037345", ["uscc_org_code_check"], id="nested-org-code-check-fails"),
    ],
)
def test_doubtful_division_or_org_code_is_a_warning_not_an_error(first17: str, warnings: list[str]) -> None:
    assert _codes(check_uscc(_with_check(first17))) == ([], warnings)


@pytest.mark.parametrize(
    ("body", "check"),
    [
        pytest.param("60003734", "1", id="digits"),
        pytest.param("71526726", "X", id="ten-is-X"),
        pytest.param("MA2PBMCG", "0", id="eleven-is-0-with-letters"),
    ],
)
def test_org_code_check_character(body: str, check: str) -> None:
    assert org_code_check_character(body) == check


@given(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17))
def test_any_17_characters_plus_check_character_have_no_errors(first17: str) -> None:
    assert check_uscc(_with_check(first17)).ok


@pytest.mark.parametrize("code", VALID_USCC)
def test_every_single_substitution_in_a_uscc_is_caught(code: str) -> None:
    """Σ changes by w·(v' - v) mod 31; both factors are non-zero mod the prime 31, so it never vanishes."""
    for position in range(18):
        for character in USCC_ALPHABET.replace(code[position], ""):
            mutated = code[:position] + character + code[position + 1 :]
            assert "uscc_check_character" in _codes(check_uscc(mutated))[0], mutated


@given(
    st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17),
    st.integers(min_value=0, max_value=17),
    st.sampled_from(USCC_ALPHABET),
)
def test_single_substitution_of_a_random_valid_uscc_is_an_error(first17: str, position: int, new: str) -> None:
    code = _with_check(first17)
    mutated = code[:position] + new + code[position + 1 :]
    assert check_uscc(mutated).ok == (mutated == code)


@given(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17), st.integers(min_value=0, max_value=15))
def test_swapping_two_adjacent_characters_of_a_uscc_is_caught(first17: str, position: int) -> None:
    """Neighbouring weights 3^i and 3^(i+1) differ mod the prime 31, so a transposition always moves Σ."""
    code = _with_check(first17)
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    if swapped != code:
        assert "uscc_check_character" in _codes(check_uscc(swapped))[0]


@given(st.text(max_size=40))
def test_any_text_is_judged_without_raising(text: str) -> None:
    """Whatever a department sends as a code, the checks answer with problems, never an exception."""
    for result in (check_uscc(text), check_citizen_id(text)):
        assert all(p.code and p.message for p in (*result.errors, *result.warnings))
    if len(text) != 18:
        assert not check_uscc(text).ok
        assert not check_citizen_id(text).ok


# --- citizen ID --------------------------------------------------------------------------------------


def test_citizen_id_weights_are_powers_of_2_mod_11() -> None:
    assert tuple(pow(2, 18 - i, 11) for i in range(1, 18)) == CITIZEN_ID_WEIGHTS


def test_valid_citizen_id_has_no_errors() -> None:
    assert check_citizen_id(VALID_CITIZEN_ID) == IdentifierCheck()
    assert citizen_id_check_character(VALID_CITIZEN_ID[:17]) == "X"


def test_wrong_citizen_id_check_character_names_the_expected_one() -> None:
    result = check_citizen_id("110105194912310021")
    assert [(p.code, p.message) for p in result.errors] == [
        (
            "citizen_id_check_character",
            "公民身份号码校验位错误：应为 X，实为 1 (citizen ID check character should be X, got 1)",
        )
    ]


@pytest.mark.parametrize(
    ("number", "fragment"),
    [
        pytest.param("11010519491231002", "got 17", id="17-characters"),
        pytest.param("110105491231002", "replace a 15-digit legacy number", id="legacy-15-digit"),
        pytest.param("1101051949123100AX", "position 17 must be a digit, got 'A'", id="letter-inside"),
        pytest.param("11010519491231002x", "lower-case letter, use upper-case X", id="lowercase-x"),
        pytest.param("11010519491231002Y", "must be a digit or upper-case X, got 'Y'", id="other-letter-last"),
    ],
)
def test_malformed_citizen_id_is_rejected(number: str, fragment: str) -> None:
    result = check_citizen_id(number)
    assert _codes(result) == (["citizen_id_format"], [])
    assert fragment in result.errors[0].message


@pytest.mark.parametrize("birth", ["19490230", "19491301", "20230229", "00000000"])
def test_impossible_birth_date_is_rejected(birth: str) -> None:
    number = _citizen(f"110105{birth}002")
    result = check_citizen_id(number)
    assert _codes(result) == (["citizen_id_birth_date"], [])
    assert birth in result.errors[0].message
    assert birth_date_of(number) is None


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_any_17_digits_plus_check_character_pass_the_check(first17: str) -> None:
    assert "citizen_id_check_character" not in _codes(check_citizen_id(_citizen(first17)))[0]


def test_every_single_substitution_in_a_citizen_id_is_caught() -> None:
    """Weights are 2^k mod 11 (never 0) and digit changes are 1..9, so Σ mod 11 always moves."""
    for position in range(18):
        alphabet = "0123456789X" if position == 17 else "0123456789"
        for character in alphabet.replace(VALID_CITIZEN_ID[position], ""):
            mutated = VALID_CITIZEN_ID[:position] + character + VALID_CITIZEN_ID[position + 1 :]
            assert "citizen_id_check_character" in _codes(check_citizen_id(mutated))[0], mutated


# The first 17 characters of a well-formed citizen ID: division, a real birth date, sequence number.
CITIZEN_FIRST17 = st.builds(
    lambda division, born, sequence: f"{division}{born:%Y%m%d}{sequence}",
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 12, 31)),
    st.text(alphabet="0123456789", min_size=3, max_size=3),
)


@given(CITIZEN_FIRST17)
def test_a_generated_citizen_id_with_a_real_birth_date_is_accepted(first17: str) -> None:
    assert check_citizen_id(_citizen(first17)) == IdentifierCheck()


@given(CITIZEN_FIRST17, st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_single_substitution_of_a_random_citizen_id_is_refused(first17: str, position: int, new: str) -> None:
    """Any one character changed, anywhere, in any generated number: refused (a mistyped ID number
    would file the record against another person)."""
    number = _citizen(first17)
    mutated = number[:position] + new + number[position + 1 :]
    assert check_citizen_id(mutated).ok == (mutated == number)
    if mutated != number and new != "X":
        assert "citizen_id_check_character" in _codes(check_citizen_id(mutated))[0]


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.integers(min_value=0, max_value=15))
def test_swapping_two_adjacent_digits_of_a_citizen_id_is_caught(first17: str, position: int) -> None:
    """Weights 2^k mod 11 of neighbours differ, so a transposition always moves Σ mod 11."""
    number = _citizen(first17)
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    if swapped != number:
        assert "citizen_id_check_character" in _codes(check_citizen_id(swapped))[0]


@pytest.mark.parametrize(
    ("number", "born"),
    [
        pytest.param(VALID_CITIZEN_ID, date(1949, 12, 31), id="valid"),
        pytest.param("110105194912310021", date(1949, 12, 31), id="wrong-check-still-read"),
        pytest.param("11010519491231002", None, id="too-short"),
        pytest.param("1101051949133100X1", None, id="not-digits"),
    ],
)
def test_birth_date_of(number: str, born: date | None) -> None:
    assert birth_date_of(number) == born


@pytest.mark.parametrize(
    ("birth", "on", "minor"),
    [
        pytest.param("20080615", date(2026, 6, 14), True, id="day-before-18th-birthday"),
        pytest.param("20080615", date(2026, 6, 15), False, id="on-18th-birthday"),
        pytest.param("20080229", date(2026, 2, 28), True, id="leap-day-born-feb-28"),
        pytest.param("20080229", date(2026, 3, 1), False, id="leap-day-born-adult-on-mar-1"),
        pytest.param("19491231", date(2026, 1, 1), False, id="adult"),
    ],
)
def test_is_minor_is_under_18_on_the_date(birth: str, on: date, minor: bool) -> None:
    assert is_minor(_citizen(f"110105{birth}002"), on) is minor


def test_is_minor_is_unknown_without_a_birth_date() -> None:
    assert is_minor("E12345678", date(2026, 1, 1)) is None


# --- masking -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        pytest.param(VALID_CITIZEN_ID, "110105********002X", id="citizen-id"),
        pytest.param("110105491231002", "110105*****1002", id="legacy-15-digit"),
        pytest.param("E12345678", "E******78", id="passport"),
        pytest.param("H1234", "H**34", id="short"),
        pytest.param("123", "***", id="three-characters"),
        pytest.param("", "", id="empty"),
    ],
)
def test_mask_id_number_hides_the_middle(number: str, masked: str) -> None:
    assert mask_id_number(number) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        pytest.param("张三", "张*", id="two-characters"),
        pytest.param("王小明", "王**", id="three-characters"),
        pytest.param("欧阳娜娜", "欧阳**", id="compound-surname-kept"),
        pytest.param("欧阳修", "欧阳*", id="compound-surname-three"),
        pytest.param("欧阳", "欧*", id="two-characters-starting-like-a-compound-surname"),
        pytest.param("张", "*", id="one-character"),
    ],
)
def test_mask_person_name_keeps_the_surname(name: str, masked: str) -> None:
    assert mask_person_name(name) == masked
