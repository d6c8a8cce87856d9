"""School spreadsheets come in as CSV: good files parse, each bad cell is named by line, column,
in plain words from the imports catalogue (`E` builds the expected error: its English reason)."""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from controller.loans.import_rows import (
    ComponentRow,
    GuardianRow,
    ImportResult,
    KitLifecycle,
    KitRow,
    PupilRow,
    parse_components,
    parse_guardians,
    parse_kits,
    parse_pupils,
)
from controller.loans.vocabulary import ComponentKind, Condition, accepted
from controller.platform.csvfile import RowError
from controller.platform.csvfile import row_error as E  # noqa: N812 - E for Error, as in tables
from controller.platform.iin import IinError, parse_iin
from controller.trust.enrolment import LIFECYCLES

# Valid IINs, worked by hand in tests/controller/test_iin.py.
IIN_A = "900101300017"
IIN_B = "050315601237"
IIN_C = "050315605234"
IIN_D = "080229500429"
BAD_CHECK_DIGIT = "050315601238"

KIT_HEADER = "kit_id,profile,status"
COMPONENT_HEADER = "serial,kind,model,condition,kit_id"
PUPIL_HEADER = "pupil_ref,name,grade,program,basis,temporary_until,school,iin"
GUARDIAN_HEADER = "guardian_ref,pupil_ref,name,relation,phone,address,iin"

PUPIL_GOOD = {
    "pupil_ref": "P-1",
    "name": "Әлия Нұрғалиева",
    "grade": "5",
    "program": "general",
    "basis": "disability",
    "temporary_until": "",
    "school": "School No 12, Oskemen",
    "iin": IIN_B,
}
GUARDIAN_GOOD = {
    "guardian_ref": "G-1",
    "pupil_ref": "P-1",
    "name": "Қасым Нұрғалиев",
    "relation": "father",
    "phone": "+7 701 234 56 78",
    "address": "Oskemen, Abay avenue 12, apt 4",
    "iin": IIN_A,
}


def lines(*rows: str) -> str:
    return "".join(row + "\n" for row in rows)


def cell(value: str, delimiter: str = ",") -> str:
    return f'"{value}"' if delimiter in value or '"' in value else value


def one_row(header: str, values: dict[str, str]) -> str:
    return lines(header, ",".join(cell(values[name]) for name in header.split(",")))


# --- good files --------------------------------------------------------------------------------


def test_a_good_kits_file() -> None:
    text = lines(KIT_HEADER, "KIT-001,blind,active", "KIT-002,base,retired")
    assert parse_kits(text) == ImportResult(
        rows=[
            KitRow(kit_id="KIT-001", profile="blind", lifecycle="active"),
            KitRow(kit_id="KIT-002", profile="base", lifecycle="retired"),
        ],
        errors=[],
        lines=(2, 3),
    )


def test_a_good_components_file_in_excel_style() -> None:
    # What Excel writes in a Russian or Kazakh locale: a BOM, semicolons, CRLF, commas unquoted.
    text = (
        "\ufeffserial;kind;model;condition;kit_id\r\n"
        "SN-5CG1234XYZ;Laptop;HP ProBook 450 G8, 16 GB;new;KIT-001\r\n"
        "SN-2145LZ0K7A;webcam;Logitech C920;good;KIT-001\r\n"
    )
    result = parse_components(text, kit_ids={"KIT-001"})
    assert result.ok
    assert result.rows == [
        ComponentRow(
            serial="SN-5CG1234XYZ",
            kind="laptop",
            model="HP ProBook 450 G8, 16 GB",
            condition="new",
            kit_id="KIT-001",
        ),
        ComponentRow(
            serial="SN-2145LZ0K7A",
            kind="webcam",
            model="Logitech C920",
            condition="good",
            kit_id="KIT-001",
        ),
    ]


def test_a_good_pupils_file() -> None:
    text = lines(
        PUPIL_HEADER,
        f'P-1,Әлия Нұрғалиева,5,general,disability,,"School No 12, Oskemen",{IIN_B}',
        f"P-2,Dana,11,delayed_development,disability,,School No 12,{IIN_C}",
        f"P-3,Erlan,2,general,temporary,2026-03-01,School No 12,{IIN_D}",
        f"P-4,Berik,9,correctional_1,disability,,School No 12,{IIN_A}",
    )
    result = parse_pupils(text)
    assert result.errors == []
    assert [row.pupil_ref for row in result.rows] == ["P-1", "P-2", "P-3", "P-4"]
    assert result.rows[0] == PupilRow(
        pupil_ref="P-1",
        name="Әлия Нұрғалиева",
        grade=5,
        program="general",
        basis="disability",
        temporary_until=None,
        school="School No 12, Oskemen",
        iin=IIN_B,
    )
    assert result.rows[2].temporary_until == date(2026, 3, 1)


def test_a_good_guardians_file_in_tab_separated_form() -> None:
    text = lines(
        GUARDIAN_HEADER.replace(",", "\t"),
        f"G-1\tP-1\tҚасым Нұрғалиев\tfather\t8 (701) 234-56-78\tOskemen, Abay 12\t{IIN_A}",
        f"G-2\tP-2\tAiгуль\tlegal_representative\t+77771112233\tAlmaty\t{IIN_C}",
    )
    result = parse_guardians(text, pupil_refs={"P-1", "P-2"})
    assert result.errors == []
    assert result.rows[0] == GuardianRow(
        guardian_ref="G-1",
        pupil_ref="P-1",
        name="Қасым Нұрғалиев",
        relation="father",
        phone="+77012345678",
        address="Oskemen, Abay 12",
        iin=IIN_A,
    )


def test_one_bad_iin_among_good_rows_is_named_by_line_column_and_reason() -> None:
    text = lines(
        PUPIL_HEADER,
        f"P-1,Aliya,5,general,disability,,School No 12,{IIN_B}",
        f"P-2,Dana,6,general,disability,,School No 12,{IIN_C}",
        f"P-3,Erlan,7,general,disability,,School No 12,{BAD_CHECK_DIGIT}",
        f"P-4,Berik,8,general,disability,,School No 12,{IIN_D}",
    )
    result = parse_pupils(text)
    assert result.errors == [E(4, "iin", "iin.check_digit")]
    assert result.errors[0].messages()["ru"].startswith("неверный ИИН")
    assert "IIN" in result.errors[0].reason
    assert BAD_CHECK_DIGIT not in result.errors[0].reason, "an error report must not leak an IIN"
    assert not result.ok
    assert [row.pupil_ref for row in result.rows] == ["P-1", "P-2", "P-4"]


def test_kit_statuses_are_the_kit_lifecycles() -> None:
    assert {s.value for s in KitLifecycle} == LIFECYCLES


# --- each validation, as a table ---------------------------------------------------------------

LIFECYCLE_VALUES = "active, in_repair, lost, retired, returned"
KIT_CASES: list[tuple[str, str, RowError | None]] = [
    ("KIT-1,base,Active", "", None),
    ("KIT-1,base, lost ", "", None),
    (",base,active", "", E(2, "kit_id", "empty")),
    ("KIT-1,  ,active", "", E(2, "profile", "empty")),
    ("KIT-1,base,broken", "", E(2, "lifecycle", "choice", accepted=LIFECYCLE_VALUES)),
    ("KIT-1,blnd,active", "profiles", E(2, "profile", "unknown_profile", profile="blnd")),
    ("KIT-1,blind,active", "profiles", None),
    ("K" * 65 + ",base,active", "", E(2, "kit_id", "too_long", max=64)),
    ("KIT 1,base,active", "", E(2, "kit_id", "kit_id")),
]


@pytest.mark.parametrize(("row", "option", "error"), KIT_CASES)
def test_kit_rows(row: str, option: str, error: RowError | None) -> None:
    profiles = {"base", "blind"} if option == "profiles" else None
    result = parse_kits(lines(KIT_HEADER, row), profiles=profiles)
    assert result.errors == ([] if error is None else [error])
    assert len(result.rows) == (1 if error is None else 0)


COMPONENT_CASES: list[tuple[str, RowError | None]] = [
    ("SN-1,webcam,Logitech C920,good,KIT-1", None),
    (" SN-1 ,webcam,Logitech C920,good,KIT-1", None),
    ("SN-1,Webcam,Logitech C920, Worn ,KIT-1", None),
    (",webcam,Logitech C920,good,KIT-1", E(2, "serial", "empty")),
    ("SN-1,,Logitech C920,good,KIT-1", E(2, "kind", "choice", accepted=accepted(ComponentKind))),
    ("SN-1,cam,Logitech C920,good,KIT-1", E(2, "kind", "choice", accepted=accepted(ComponentKind))),
    ("SN-1,webcam,,good,KIT-1", E(2, "model", "empty")),
    ("SN-1,webcam,Logitech C920,,KIT-1", E(2, "condition", "choice", accepted=accepted(Condition))),
    ("SN-1,webcam,Logitech C920,good,KIT-9", E(2, "kit_id", "unknown_kit", kit="KIT-9")),
]


@pytest.mark.parametrize(("row", "error"), COMPONENT_CASES)
def test_component_rows(row: str, error: RowError | None) -> None:
    result = parse_components(lines(COMPONENT_HEADER, row), kit_ids=["KIT-1"])
    assert result.errors == ([] if error is None else [error])


def iin_reason(text: str) -> str:
    with pytest.raises(IinError) as caught:
        parse_iin(text)
    return E(2, "iin", f"iin.{caught.value.reason}").reason


GRADE = E(2, "grade", "number", min=1, max=11).reason


PUPIL_CASES: list[tuple[dict[str, str], list[tuple[str, str]]]] = [
    ({}, []),
    ({"grade": "1"}, []),
    ({"grade": "11"}, []),
    ({"grade": "0"}, [("grade", GRADE)]),
    ({"grade": "12"}, [("grade", GRADE)]),
    ({"grade": "five"}, [("grade", GRADE)]),
    ({"program": "Correctional_2"}, []),
    (
        {"program": "zpr"},
        [
            (
                "program",
                "must be one of: general, delayed_development, correctional_1, correctional_2",
            )
        ],
    ),
    ({"basis": "sick"}, [("basis", "must be one of: disability, temporary")]),
    (
        {"basis": "temporary", "temporary_until": "2026-03-01", "program": "correctional_1"},
        [("program", "a temporarily home-schooled pupil follows the general program")],
    ),
    ({"pupil_ref": "ШК-2025-017"}, []),
    (
        {"pupil_ref": "P 1"},
        [("pupil_ref", E(2, "pupil_ref", "ref").reason)],
    ),
    ({"name": "A"}, [("name", "is shorter than 2 characters")]),
    ({"basis": "temporary", "temporary_until": "2026-03-01"}, []),
    ({"basis": "temporary", "temporary_until": "01.03.2026"}, []),
    ({"basis": "temporary"}, [("temporary_until", "required when basis is temporary")]),
    (
        {"basis": "temporary", "temporary_until": "1 March 2026"},
        [("temporary_until", "a date is written YYYY-MM-DD or DD.MM.YYYY")],
    ),
    (
        {"basis": "temporary", "temporary_until": "2026-02-30"},
        [("temporary_until", "this date does not exist")],
    ),
    (
        {"basis": "temporary", "temporary_until": "31.04.2026"},
        [("temporary_until", "this date does not exist")],
    ),
    (
        {"basis": "disability", "temporary_until": "2026-03-01"},
        [("temporary_until", "only for basis temporary; leave it empty")],
    ),
    ({"name": " "}, [("name", "is empty")]),
    ({"school": ""}, [("school", "is empty")]),
    ({"iin": "0503 1560 1237"}, []),
    ({"iin": ""}, [("iin", iin_reason(""))]),
    ({"iin": BAD_CHECK_DIGIT}, [("iin", iin_reason(BAD_CHECK_DIGIT))]),
    ({"iin": "050315701237"}, [("iin", iin_reason("050315701237"))]),
    (
        {"iin": "50315601237"},
        [
            ("iin", E(2, "iin", "iin.zero_dropped").reason),
        ],
    ),
    (
        {"iin": "5.03156E+11"},
        [
            ("iin", E(2, "iin", "iin.as_number").reason),
        ],
    ),
    (
        {"grade": "0", "basis": "temporary", "iin": "123"},
        [
            ("grade", GRADE),
            ("temporary_until", "required when basis is temporary"),
            ("iin", iin_reason("123")),
        ],
    ),
]


@pytest.mark.parametrize(("changes", "errors"), PUPIL_CASES)
def test_pupil_rows(changes: dict[str, str], errors: list[tuple[str, str]]) -> None:
    result = parse_pupils(one_row(PUPIL_HEADER, {**PUPIL_GOOD, **changes}))
    assert result.errors == [RowError(2, column, reason) for column, reason in errors]
    assert len(result.rows) == (0 if errors else 1)


PHONES_GOOD = [
    ("+77012345678", "+77012345678"),
    ("+7 701 234 56 78", "+77012345678"),
    ("+7 (701) 234-56-78", "+77012345678"),
    ("8 701 234 56 78", "+77012345678"),
    ("87012345678", "+77012345678"),
    ("8(7232)12-34-56", "+77232123456"),
    ("77012345678", "+77012345678"),  # a spreadsheet dropped the plus
]
PHONES_BAD = [
    "",
    "7012345678",
    "+7 701 234 56 7",
    "+7 701 234 56 789",
    "+8 701 234 56 78",
    "+7701abc5678",
]
PHONE_REASON = "a phone number is +7 and 10 digits, like +7 701 234 56 78 or 8 701 234 56 78"


@pytest.mark.parametrize(("phone", "normalised"), PHONES_GOOD)
def test_phones_are_normalised(phone: str, normalised: str) -> None:
    result = parse_guardians(one_row(GUARDIAN_HEADER, {**GUARDIAN_GOOD, "phone": phone}))
    assert result.errors == []
    assert result.rows[0].phone == normalised


@pytest.mark.parametrize("phone", PHONES_BAD)
def test_bad_phones_are_refused(phone: str) -> None:
    result = parse_guardians(one_row(GUARDIAN_HEADER, {**GUARDIAN_GOOD, "phone": phone}))
    assert result.errors == [RowError(2, "phone", PHONE_REASON)]


GUARDIAN_CASES: list[tuple[dict[str, str], list[tuple[str, str]]]] = [
    ({}, []),
    ({"relation": "Mother"}, []),
    ({"relation": "legal_representative"}, []),
    (
        {"relation": "aunt"},
        [("relation", "must be one of: mother, father, legal_representative, other")],
    ),
    ({"address": ""}, [("address", "is empty")]),
    ({"address": "x" * 501}, [("address", "is longer than 500 characters")]),
    ({"name": ""}, [("name", "is empty")]),
    ({"guardian_ref": ""}, [("guardian_ref", "is empty")]),
    (
        {"pupil_ref": "P-404"},
        [("pupil_ref", E(2, "pupil_ref", "unknown_pupil", ref="P-404").reason)],
    ),
    ({"iin": BAD_CHECK_DIGIT}, [("iin", iin_reason(BAD_CHECK_DIGIT))]),
]


@pytest.mark.parametrize(("changes", "errors"), GUARDIAN_CASES)
def test_guardian_rows(changes: dict[str, str], errors: list[tuple[str, str]]) -> None:
    result = parse_guardians(
        one_row(GUARDIAN_HEADER, {**GUARDIAN_GOOD, **changes}), pupil_refs=["P-1"]
    )
    assert result.errors == [RowError(2, column, reason) for column, reason in errors]


# --- duplicate keys ----------------------------------------------------------------------------

DUPLICATE_CASES: list[tuple[str, str, list[RowError], int]] = [
    (
        "kits",
        lines(KIT_HEADER, "KIT-1,base,active", "KIT-2,base,active", "KIT-1,blind,active"),
        [E(4, "kit_id", "duplicate", first=2)],
        2,
    ),
    (
        "components",
        lines(COMPONENT_HEADER, "SN-1,webcam,C920,good,KIT-1", "SN-1,headset,Jabra,new,KIT-2"),
        [E(3, "serial", "duplicate", first=2)],
        1,
    ),
    (
        "pupils",
        lines(
            PUPIL_HEADER,
            f"P-1,Aliya,5,general,disability,,School,{IIN_B}",
            f"P-1,Dana,5,general,disability,,School,{IIN_C}",
            "P-3,Erlan,5,general,disability,,School,0503 1560 1237",
            f"P-1,Berik,5,general,disability,,School,{IIN_B}",
        ),
        [
            E(3, "pupil_ref", "duplicate", first=2),
            E(4, "iin", "duplicate", first=2),
            E(5, "pupil_ref", "duplicate", first=2),
            E(5, "iin", "duplicate", first=2),
        ],
        1,
    ),
    (
        "guardians",
        lines(
            GUARDIAN_HEADER,
            f"G-1,P-1,Aliya,mother,87012345678,Oskemen,{IIN_A}",
            f"G-1,P-2,Dana,mother,87012345679,Oskemen,{IIN_C}",
            f"G-3,P-3,Aliya,mother,87012345678,Oskemen,{IIN_A}",
        ),
        [
            E(3, "guardian_ref", "duplicate", first=2),
            E(4, "iin", "duplicate", first=2),
        ],
        1,
    ),
]

PARSERS: dict[str, Callable[[str], ImportResult[Any]]] = {
    "kits": parse_kits,
    "components": parse_components,
    "pupils": parse_pupils,
    "guardians": parse_guardians,
}


@pytest.mark.parametrize(("kind", "text", "errors", "good_rows"), DUPLICATE_CASES)
def test_duplicate_keys_name_the_first_row(
    kind: str, text: str, errors: list[RowError], good_rows: int
) -> None:
    result = PARSERS[kind](text)
    assert result.errors == errors
    assert len(result.rows) == good_rows


# --- the file as a whole -----------------------------------------------------------------------

KIT_COLUMNS = "kit_id, profile, lifecycle"
FILE_CASES: list[tuple[str, str, list[RowError], int]] = [
    ("the lifecycle column by its name", lines("kit_id,profile,lifecycle", "K-1,base,lost"), [], 1),
    ("header only", lines(KIT_HEADER), [], 0),
    (
        "columns in another order and case",
        lines("Status; KIT_ID ;Profile", "active;K-1;base"),
        [],
        1,
    ),
    (
        "a missing column",
        lines("kit_id,status", "K-1,active"),
        [E(1, None, "header.missing", columns="profile", expected=KIT_COLUMNS)],
        0,
    ),
    (
        "an unknown and a repeated column",
        lines("kit_id,profile,status,colour,status", "K-1,base,active,red,active"),
        [
            E(1, None, "header.unknown", columns="colour", expected=KIT_COLUMNS),
            E(1, None, "header.repeated", columns="lifecycle", expected=KIT_COLUMNS),
        ],
        0,
    ),
    (
        "an unnamed column",
        lines("kit_id,profile,status,", "K-1,base,active,"),
        [E(1, None, "header.unknown", columns="(unnamed)", expected=KIT_COLUMNS)],
        0,
    ),
    ("an empty file", "", [E(1, None, "empty_file", expected=KIT_COLUMNS)], 0),
    ("only a BOM", "\ufeff\n", [E(1, None, "empty_file", expected=KIT_COLUMNS)], 0),
    (
        "blank lines keep the line numbers",
        lines(KIT_HEADER, "", "K-1,base,active", ",,", "K-2,base,gone"),
        [E(5, "lifecycle", "choice", accepted=LIFECYCLE_VALUES)],
        1,
    ),
    (
        "too few and too many cells",
        lines(KIT_HEADER, "K-1,base", "K-2,base,active,extra", "K-3,base,active"),
        [
            RowError(2, None, "has 2 cells, the header has 3"),
            RowError(3, None, "has 4 cells, the header has 3"),
        ],
        1,
    ),
    (
        "an unclosed quote",
        lines(KIT_HEADER, "K-1,base,active", 'K-2,"base,active', "K-3,base,active"),
        [RowError(3, None, "unreadable CSV from here on: unexpected end of data")],
        1,
    ),
    (
        "a stray quote",
        lines(KIT_HEADER, 'K-1,"base"x,active', "K-2,base,active"),
        [RowError(2, None, "unreadable CSV from here on: ',' expected after '\"'")],
        0,
    ),
]


@pytest.mark.parametrize(
    ("text", "errors", "good_rows"),
    [case[1:] for case in FILE_CASES],
    ids=[case[0] for case in FILE_CASES],
)
def test_files(text: str, errors: list[RowError], good_rows: int) -> None:
    result = parse_kits(text)
    assert result.errors == errors
    assert len(result.rows) == good_rows
    assert result.ok is (not errors)


def test_a_cell_over_two_lines_keeps_the_line_numbers() -> None:
    text = lines(
        COMPONENT_HEADER,
        'SN-1,webcam,"C920,',
        'with its cable",good,K-1',
        "SN-2,headset,Jabra,,K-1",
    )
    result = parse_components(text)
    assert result.errors == [E(4, "condition", "choice", accepted=accepted(Condition))]
    assert result.rows[0].model == "C920,\nwith its cable"


def test_a_semicolon_file_keeps_commas_in_cells() -> None:
    text = lines(
        GUARDIAN_HEADER.replace(",", ";"),
        f"G-1;P-1;Aliya;mother;+7 701 234 56 78;Oskemen, Abay 12, apt 4;{IIN_A}",
    )
    assert parse_guardians(text).rows[0].address == "Oskemen, Abay 12, apt 4"


def test_rows_are_frozen_and_strict() -> None:
    row = KitRow(kit_id="K-1", profile="base", lifecycle="active")
    with pytest.raises(ValueError, match="frozen"):
        row.kit_id = "K-2"  # type: ignore[misc]
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        KitRow.model_validate({"kit_id": "K-1", "profile": "base", "lifecycle": "lost", "x": "1"})


# --- the templates -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["kits", "components", "pupils", "guardians"])
def test_each_template_parses_clean_and_ships_as_package_data(kind: str) -> None:
    root = Path(__file__).parents[3]
    template = root / "controller" / "loans" / "templates" / f"{kind}.csv"
    raw = template.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel opens it with Cyrillic intact"
    known = {"kit_ids": ["kit-001"], "pupil_refs": ["ШК-2025-017"]}
    parse: Callable[..., ImportResult[Any]] = PARSERS[kind]
    kwargs = {k: v for k, v in known.items() if k in parse.__code__.co_varnames}
    result = parse(raw.decode("utf-8"), **kwargs)
    assert (result.errors, len(result.rows) > 0) == ([], True)
    shipped = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = shipped["package-data"]["controller"]
    relative = template.relative_to(root / "controller").as_posix()
    assert any(fnmatch.fnmatch(relative, p) for p in patterns), "in a fresh install too"
