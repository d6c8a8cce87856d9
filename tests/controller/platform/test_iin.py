"""Kazakhstan IINs: valid numbers parse to a birth date and sex, invalid ones say what is wrong."""

from __future__ import annotations

from datetime import date

import pytest

from controller.platform.iin import Iin, IinError, Sex, check_digit, is_valid_iin, parse_iin


def reference_check_digit(first11: str) -> int | None:
    """The rule as the law states it, written plainly and apart from controller.platform.iin."""
    total = 0
    for position in range(11):
        total += int(first11[position]) * (position + 1)
    if total % 11 != 10:
        return total % 11
    second_weights = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]
    total = 0
    for position in range(11):
        total += int(first11[position]) * second_weights[position]
    if total % 11 == 10:
        return None
    return total % 11


# Worked by hand, digit by digit (d = digits 1..11, w = weights):
#
# 900101300017: 1990-01-01, digit 7 = 3 (1900s, male), serial 0001.
#   d 9 0 0 1 0 1 3 0 0 0 1, w 1..11: 9+0+0+4+0+6+21+0+0+0+11 = 51; 51 = 4*11 + 7 -> 7.
# 050315601237: 2005-03-15, digit 7 = 6 (2000s, female), serial 0123.
#   d 0 5 0 3 1 5 6 0 1 2 3, w 1..11: 0+10+0+12+5+30+42+0+9+20+33 = 161; 161 = 14*11 + 7 -> 7.
# 050315605234: same person data, serial 0523; the first weights give 10, so the second are used.
#   d 0 5 0 3 1 5 6 0 5 2 3, w 1..11: 0+10+0+12+5+30+42+0+45+20+33 = 197; 197 = 17*11 + 10 -> 10.
#   w 3..11,1,2: 0+20+0+18+7+40+54+0+55+2+6 = 202; 202 = 18*11 + 4 -> 4.
# 080229500429: 2008-02-29 (a leap day), digit 7 = 5 (2000s, male), serial 0042.
#   d 0 8 0 2 2 9 5 0 0 4 2, w 1..11: 0+16+0+8+10+54+35+0+0+40+22 = 185; 185 = 16*11 + 9 -> 9.
# 991231100070: 1899-12-31, digit 7 = 1 (1800s, male), serial 0007.
#   d 9 9 1 2 3 1 1 0 0 0 7, w 1..11: 9+18+3+8+15+6+7+0+0+0+77 = 143; 143 = 13*11 + 0 -> 0.
# 05031560526 has no check digit: serial 0526.
#   w 1..11: 0+10+0+12+5+30+42+0+45+20+66 = 230; 230 = 20*11 + 10 -> 10.
#   w 3..11,1,2: 0+20+0+18+7+40+54+0+55+2+12 = 208; 208 = 18*11 + 10 -> 10 again: invalid.
HAND_VERIFIED: list[tuple[str, date, Sex]] = [
    ("900101300017", date(1990, 1, 1), "male"),
    ("050315601237", date(2005, 3, 15), "female"),
    ("050315605234", date(2005, 3, 15), "female"),
    ("080229500429", date(2008, 2, 29), "male"),
    ("991231100070", date(1899, 12, 31), "male"),
]
NO_CHECK_DIGIT = "05031560526"


@pytest.mark.parametrize(("text", "birth_date", "sex"), HAND_VERIFIED)
def test_hand_verified_iins_parse(text: str, birth_date: date, sex: Sex) -> None:
    assert parse_iin(text) == Iin(value=text, birth_date=birth_date, sex=sex)
    assert is_valid_iin(text)


@pytest.mark.parametrize(("text", "birth_date", "sex"), HAND_VERIFIED)
def test_hand_verified_check_digits(text: str, birth_date: date, sex: str) -> None:
    assert check_digit(text[:11]) == int(text[11])
    assert reference_check_digit(text[:11]) == int(text[11])


def test_eleven_digits_without_a_valid_check_digit() -> None:
    assert check_digit(NO_CHECK_DIGIT) is None
    assert reference_check_digit(NO_CHECK_DIGIT) is None
    for last in "0123456789":
        with pytest.raises(IinError, match="no valid IIN starts with these 11 digits") as caught:
            parse_iin(NO_CHECK_DIGIT + last)
        assert caught.value.reason == "check_digit"


CENTURY_DIGITS = {
    "1": (1800, "male"),
    "2": (1800, "female"),
    "3": (1900, "male"),
    "4": (1900, "female"),
    "5": (2000, "male"),
    "6": (2000, "female"),
}
DATES = ["000101", "000229", "121231", "450509", "990228", "230731", "170630"]
SERIALS = ["0000", "0001", "0123", "0526", "4999", "9999", "7310"]


def constructed_cases() -> list[tuple[str, date, str]]:
    """Every date x century digit x serial whose date exists and that has a check digit."""
    cases = []
    for yymmdd in DATES:
        for digit7, (century, sex) in CENTURY_DIGITS.items():
            year = century + int(yymmdd[:2])
            try:
                birth_date = date(year, int(yymmdd[2:4]), int(yymmdd[4:6]))
            except ValueError:  # 29 February 1800 and 1900
                continue
            for serial in SERIALS:
                first11 = yymmdd + digit7 + serial
                check = reference_check_digit(first11)
                if check is not None:
                    cases.append((first11 + str(check), birth_date, sex))
    return cases


CONSTRUCTED = constructed_cases()


def test_the_constructed_table_covers_both_weightings() -> None:
    # At least one number needs the second weights, or the fallback would go untested.
    fallback = [
        text
        for text, _, _ in CONSTRUCTED
        if sum(int(d) * w for d, w in zip(text[:11], range(1, 12), strict=True)) % 11 == 10
    ]
    assert len(CONSTRUCTED) > 200
    assert fallback


@pytest.mark.parametrize(("text", "birth_date", "sex"), CONSTRUCTED)
def test_constructed_iins_parse(text: str, birth_date: date, sex: str) -> None:
    iin = parse_iin(text)
    assert (iin.value, iin.birth_date, iin.sex) == (text, birth_date, sex)


def test_check_digit_agrees_with_the_reference_on_many_prefixes() -> None:
    for yymmdd in DATES:
        for digit7 in CENTURY_DIGITS:
            for serial in range(0, 10000, 37):
                first11 = f"{yymmdd}{digit7}{serial:04d}"
                assert check_digit(first11) == reference_check_digit(first11), first11


@pytest.mark.parametrize(
    "text",
    ["900101 300017", " 900101300017 ", "9001 0130 0017", "900101\u00a0300017", "900101\t300017\n"],
)
def test_spaces_are_ignored(text: str) -> None:
    assert parse_iin(text).value == "900101300017"


def test_leap_day_depends_on_the_century() -> None:
    # 29 February 2000 exists, 29 February 1900 does not (1900 is not a leap year).
    first11_2000 = "000229" + "6" + "0001"
    check = reference_check_digit(first11_2000)
    assert check is not None
    assert parse_iin(first11_2000 + str(check)).birth_date == date(2000, 2, 29)
    first11_1900 = "000229" + "4" + "0001"
    with pytest.raises(IinError) as caught:
        parse_iin(first11_1900 + str(reference_check_digit(first11_1900)))
    assert caught.value.reason == "date"


@pytest.mark.parametrize(
    ("text", "reason", "message"),
    [
        ("", "empty", "the IIN is empty"),
        ("   ", "empty", "the IIN is empty"),
        ("90010130001", "length", "an IIN has 12 digits, this one has 11"),
        ("9001013000170", "length", "an IIN has 12 digits, this one has 13"),
        ("90010130001A", "non_digit", "character 12 is not one"),
        ("9001-0130-0017", "non_digit", "character 5 is not one"),
        ("IIN900101300017", "non_digit", "character 1 is not one"),
        # Arabic-Indic and full-width digits pass str.isdigit() but are not IIN digits.
        ("٩٠٠١٠١٣٠٠٠١٧", "non_digit", "character 1 is not one"),
        ("９００１０１３０００１７", "non_digit", "character 1 is not one"),
        ("900101000017", "century", "must be 1 to 6, not 0"),
        ("900101700017", "century", "must be 1 to 6, not 7"),
        ("900101900017", "century", "must be 1 to 6, not 9"),
        ("901301300017", "date", "this date does not exist"),
        ("900001300017", "date", "this date does not exist"),
        ("900100300017", "date", "this date does not exist"),
        ("900230300017", "date", "this date does not exist"),
        ("900431300017", "date", "this date does not exist"),
        ("900101300018", "check_digit", "does not match"),
        ("050315601230", "check_digit", "does not match"),
    ],
)
def test_invalid_iins_say_what_is_wrong(text: str, reason: str, message: str) -> None:
    with pytest.raises(IinError, match=message) as caught:
        parse_iin(text)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError)
    assert not is_valid_iin(text)


def test_messages_do_not_repeat_the_number() -> None:
    for text in ["900101300018", "900230300017", "900101000017", "90010130001A"]:
        with pytest.raises(IinError) as caught:
            parse_iin(text)
        assert text not in str(caught.value)
        assert text[:6] not in str(caught.value)


def test_every_wrong_check_digit_is_refused() -> None:
    for text, _, _ in HAND_VERIFIED:
        for last in "0123456789":
            assert is_valid_iin(text[:11] + last) == (last == text[11])


def test_a_typo_in_digit_11_is_not_caught_by_the_official_rule() -> None:
    # Weight 11 is 0 mod 11, so digit 11 does not move the first sum: this is the law's algorithm,
    # not a bug, and a validator that "fixed" it would refuse real IINs.
    assert is_valid_iin("900101300017")
    assert is_valid_iin("900101300027")


@pytest.mark.parametrize("first11", ["", "9001013000", "900101300017", "90010130001A"])
def test_check_digit_needs_eleven_digits(first11: str) -> None:
    with pytest.raises(IinError):
        check_digit(first11)
