"""Loan documents come out as real PDFs whose text poppler reads back, in Kazakh and in Russian."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from fontTools import subset  # type: ignore[import-untyped]

from controller.errors import DocumentError
from controller.loans.documents import (
    Annex,
    ComponentLine,
    FontFiles,
    Lang,
    LoanDocument,
    Party,
    Pupil,
    annex_pdf,
    contract_pdf,
    find_fonts,
    handover_act_pdf,
    return_act_pdf,
)

KAZAKH_LETTERS = "әғқңөұүһіӘҒҚҢӨҰҮҺІ"
SCHOOL = "Өскемен қаласының № 12 жалпы білім беретін мектебі"
GUARDIAN = "Әлия Қасымқызы Нұрғалиева"
COMPONENTS = [
    ComponentLine("Ноутбук", "HP ProBook 450 G8", "SN-5CG1234XYZ", "жаңа"),
    ComponentLine("Веб-камера", "Logitech C920", "SN-2145LZ0K7A", "жақсы"),
    ComponentLine("Гарнитура", "Jabra Evolve2 40", "SN-JB40Q99812", "жаңа"),
    ComponentLine("Брайль дисплейі", "Focus 40 Blue", "SN-FB5G0021KZ", "жақсы, қорабымен"),
    ComponentLine("Принтер", "Canon PIXMA G3411", "SN-KMGR04417", "жаңа"),
]
DOC = LoanDocument(
    number="017/2025",
    school=SCHOOL,
    city="Өскемен",
    date=dt.date(2025, 9, 1),
    guardian=Party(
        name=GUARDIAN,
        iin="850412400121",
        address="Өскемен қ., Абай даңғылы, 15-үй, 42-пәтер",
        phone="+7 701 234 56 78",
        role="parent",
    ),
    pupil=Pupil(name="Ғалымжан Сәкенұлы Шаһмарданов", iin="130916500346", grade=7, school=SCHOOL),
    kit_id="kit-0042",
    components=COMPONENTS,
    start=dt.date(2025, 9, 1),
    end=dt.date(2026, 5, 31),
    terms_version="2025.1",
    signed_by_school="Зуһра Мұратқызы Әбілова",
)
# The headset is lost, the printer not brought back; a replacement headset comes back instead.
RETURNED = [
    ComponentLine("Ноутбук", "HP ProBook 450 G8", "SN-5CG1234XYZ", "жақсы, сызаттар бар"),
    COMPONENTS[1],
    COMPONENTS[3],
    ComponentLine("Гарнитура", "Jabra Evolve2 40", "SN-JB40R00001", "тозған"),
]
MISSING = ["SN-JB40Q99812", "SN-KMGR04417"]
NOT_RETURNED = {"kk": "ҚАЙТАРЫЛМАДЫ", "ru": "НЕ ВОЗВРАЩЕНО"}

TITLES = {
    ("contract", "kk"): "Уақытша қайтарымсыз пайдалану шарты",
    ("contract", "ru"): "Договор временного безвозмездного пользования",
    ("handover", "kk"): "Қабылдау-тапсыру актісі",
    ("handover", "ru"): "Акт приёма-передачи",
    ("return", "kk"): "Қайтару актісі",
    ("return", "ru"): "Акт возврата",
}


def render(kind: str, lang: str) -> bytes:
    """One of the three documents of the sample loan."""
    if kind == "contract":
        return contract_pdf(DOC, lang)  # type: ignore[arg-type]
    if kind == "handover":
        return handover_act_pdf(DOC, lang)  # type: ignore[arg-type]
    return return_act_pdf(DOC, lang, returned=RETURNED, date_returned=dt.date(2026, 5, 29))  # type: ignore[arg-type]


def pdftotext(pdf: bytes, where: Path) -> str:
    """What poppler's pdftotext reads out of a PDF, laid out as on the page."""
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is not installed: apt-get install poppler-utils")
    path = where / "document.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    """Every document of the sample loan, rendered once and read back with pdftotext."""
    out: dict[tuple[str, str], str] = {}
    for kind, lang in TITLES:
        pdf = render(kind, lang)
        assert pdf.startswith(b"%PDF-")
        out[kind, lang] = pdftotext(pdf, tmp_path_factory.mktemp(f"{kind}-{lang}"))
    return out


def flat(text: str) -> str:
    """Text with every run of spaces and line breaks made one space, so wrapped names match."""
    return " ".join(text.split())


@pytest.mark.parametrize(("kind", "lang"), list(TITLES))
def test_document_shows_its_title_the_guardian_and_every_serial(
    texts: dict[tuple[str, str], str], kind: str, lang: str
) -> None:
    text = flat(texts[kind, lang])
    assert TITLES[kind, lang] in text
    assert GUARDIAN in text
    assert DOC.pupil.name in text or kind == "return"
    for line in COMPONENTS:
        assert line.serial in text, line.serial
    assert "017/2025" in text


@pytest.mark.parametrize("kind", ["contract", "handover", "return"])
def test_kazakh_documents_print_every_kazakh_letter(
    texts: dict[tuple[str, str], str], kind: str
) -> None:
    text = texts[kind, "kk"]
    assert [letter for letter in KAZAKH_LETTERS if letter not in text] == []


def test_contract_states_the_duties_and_the_term(texts: dict[tuple[str, str], str]) -> None:
    kk, ru = flat(texts["contract", "kk"]), flat(texts["contract", "ru"])
    assert "ең қысқа мерзімде ауыстыру" in kk
    assert "үшінші тұлғаларға бермеу" in kk
    assert "2025 жылғы 1 қыркүйек — 2026 жылғы 31 мамыр" in kk
    assert "в кратчайшие сроки, чтобы учебный процесс не прерывался" in ru
    assert "Не передавать Комплект или его части третьим лицам" in ru
    assert "с 1 сентября 2025 г. по 31 мая 2026 г. включительно" in ru
    assert "ата-анасы" in kk
    assert "родитель несовершеннолетнего учащегося" in ru


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_return_act_marks_what_was_not_returned(
    texts: dict[tuple[str, str], str], lang: str
) -> None:
    lines = texts["return", lang].splitlines()
    for serial in MISSING:
        row = next(line for line in lines if serial in line)
        assert NOT_RETURNED[lang] in row, row
    returned_row = next(line for line in lines if "SN-5CG1234XYZ" in line)
    assert NOT_RETURNED[lang] not in returned_row
    text = flat(texts["return", lang])
    assert "SN-JB40R00001" in text  # the replacement that came back is listed too
    counts = {"kk": "берілген: 5; қайтарылған: 3; қайтарылмаған: 2", "ru": "не возвращено: 2"}
    assert counts[lang] in text


def test_handover_act_records_the_training(texts: dict[tuple[str, str], str]) -> None:
    kk, ru = flat(texts["handover", "kk"]), flat(texts["handover", "ru"])
    assert f"Оқытудан өткендер: {GUARDIAN} және {DOC.pupil.name}" in kk
    assert f"Обучение прошли: {GUARDIAN} и {DOC.pupil.name}" in ru


def test_same_loan_renders_the_same_bytes() -> None:
    assert handover_act_pdf(DOC, "ru") == handover_act_pdf(DOC, "ru")


def test_missing_font_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"DejaVuSans\.ttf.*fonts-dejavu-core"):
        find_fonts([tmp_path])


def test_missing_font_file_is_a_clear_error(tmp_path: Path) -> None:
    gone = tmp_path / "NoSuchFont.ttf"
    with pytest.raises(DocumentError, match=r"cannot read the font file .*NoSuchFont\.ttf"):
        contract_pdf(DOC, "kk", fonts=FontFiles(gone, gone))


def test_a_file_that_is_no_font_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "font.ttf"
    text.write_text("not a font")
    with pytest.raises(DocumentError, match="not a TrueType or OpenType font"):
        contract_pdf(DOC, "ru", fonts=FontFiles(text, text))


def test_a_font_without_kazakh_letters_is_refused(tmp_path: Path) -> None:
    latin = tmp_path / "latin.ttf"
    options = subset.Options()
    font = subset.load_font(str(find_fonts().regular), options)
    try:
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=range(0x20, 0x250))
        subsetter.subset(font)
        subset.save_font(font, str(latin), options)
    finally:
        font.close()
    with pytest.raises(DocumentError, match=r"has no glyph for: .*ә.*Kazakh"):
        contract_pdf(DOC, "kk", fonts=FontFiles(latin, latin))


BadCase = Callable[[], object]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: contract_pdf(DOC, "en"), "no document texts in language 'en'"),  # type: ignore[arg-type]
        (
            lambda: contract_pdf(
                LoanDocument(**{**DOC.__dict__, "end": dt.date(2025, 8, 1)}), "kk"
            ),
            "ends .* before it starts",
        ),
        (
            lambda: handover_act_pdf(
                LoanDocument(**{**DOC.__dict__, "components": [*COMPONENTS, COMPONENTS[0]]}), "kk"
            ),
            "SN-5CG1234XYZ is listed twice",
        ),
    ],
    ids=["unknown-language", "term-backwards", "duplicate-serial"],
)
def test_nonsense_is_refused(call: BadCase, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        call()


# --- issue 13: vocabulary labels, blanks, the return act's claim, annexes, headings ---------------

VOCABULARY_PARTS = [
    ComponentLine("laptop", "HP ProBook 450 G8", "SN-5CG1234XYZ", "good"),
    ComponentLine("headset", "Jabra Evolve2 40", "SN-JB40Q99812", "new"),
]
VOCABULARY_DOC = LoanDocument(**{**DOC.__dict__, "components": VOCABULARY_PARTS})
LABELS = {
    "kk": ("ноутбук", "гарнитура", "зақымдалған: доғасы сынған"),
    "ru": ("ноутбук", "гарнитура", "повреждено: доғасы сынған"),
}
HEADINGS = {
    "kk": ("Атауы", "Үлгісі", "Сериялық", "нөмірі", "Берілген", "Қайтарылған", "кездегі"),
    "ru": ("Наименование", "Модель", "Серийный", "номер", "Состояние", "передаче", "возврате"),
}


def _damaged_return(lang: Lang, claim: str | None) -> bytes:
    back = [
        VOCABULARY_PARTS[0],
        ComponentLine("headset", "Jabra Evolve2 40", "SN-JB40Q99812", "damaged", "доғасы сынған"),
    ]
    return return_act_pdf(
        VOCABULARY_DOC,
        lang,
        returned=back,
        date_returned=dt.date(2026, 5, 29),
        claim=claim,
    )


@pytest.mark.processes  # pdftotext
@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_kinds_and_conditions_print_in_the_documents_language(lang: Lang, tmp_path: Path) -> None:
    text = flat(pdftotext(_damaged_return(lang, "12 000 теңге өтеу"), tmp_path))
    for label in LABELS[lang]:
        assert label in text
    assert "12 000 теңге өтеу" in text
    complete = {"kk": "толық жиынтығымен қайтарылды", "ru": "в полной комплектации"}
    assert complete[lang] not in text, "a damaged headset is no complete return"
    sound = return_act_pdf(
        VOCABULARY_DOC,
        lang,
        returned=VOCABULARY_PARTS,
        date_returned=dt.date(2026, 5, 29),
    )
    assert complete[lang] in flat(pdftotext(sound, tmp_path))


@pytest.mark.processes  # pdftotext
@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_a_draft_prints_blanks_where_the_school_signatory_goes(lang: Lang, tmp_path: Path) -> None:
    draft = LoanDocument(**{**DOC.__dict__, "signed_by_school": None})
    text = flat(pdftotext(contract_pdf(draft, lang), tmp_path))
    assert "______________________________" in text
    assert f"{SCHOOL} атынан" not in text
    assert f"действует {SCHOOL}" not in text


@pytest.mark.processes  # pdftotext
@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_no_heading_word_of_a_table_is_split(lang: Lang, tmp_path: Path) -> None:
    text = pdftotext(_damaged_return(lang, None), tmp_path)
    words = set(re.findall(r"\w+", text))
    assert set(HEADINGS[lang]) <= words, set(HEADINGS[lang]) - words


@pytest.mark.processes  # pdftotext
@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_an_annex_lists_what_was_taken_back_and_given_and_why(lang: Lang, tmp_path: Path) -> None:
    annex = Annex(
        number=2,
        day=dt.date(2026, 1, 15),
        reason="микрофон жұмыс істемейді",
        taken=[ComponentLine("headset", "Jabra Evolve2 40", "SN-JB40Q99812", "faulty")],
        given=[ComponentLine("headset", "Jabra Evolve2 40", "SN-JB40R00001", "new")],
    )
    text = flat(pdftotext(annex_pdf(VOCABULARY_DOC, annex, lang), tmp_path))
    assert {"kk": "№ 2 қосымша", "ru": "Приложение № 2"}[lang] in text
    for words in ("SN-JB40Q99812", "SN-JB40R00001", "микрофон жұмыс істемейді", "017/2025"):
        assert words in text
    assert {"kk": "ақаулы", "ru": "неисправно"}[lang] in text


LATIN_ALLOWED = ("PDF",)
"""Latin-script words a kk or ru document may print besides its serials, models and kit id."""


@pytest.mark.processes  # pdftotext
@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_documents_print_no_latin_word_outside_the_allow_list(lang: Lang, tmp_path: Path) -> None:
    names = {DOC.kit_id, *(p for line in COMPONENTS + RETURNED for p in (line.serial, line.model))}
    allowed = set(re.findall(r"[A-Za-z]+", " ".join(names))) | set(LATIN_ALLOWED)
    for kind in ("contract", "handover", "return"):
        text = pdftotext(render(kind, lang), tmp_path)
        assert set(re.findall(r"[A-Za-z]+", text)) - allowed == set(), kind


def test_a_kit_back_before_the_term_starts_gets_its_act() -> None:
    """The lifecycle lets a kit come back before `start` (review of issue 13): the act prints."""
    pdf = return_act_pdf(DOC, "ru", returned=COMPONENTS, date_returned=DOC.start - dt.timedelta(1))
    assert pdf.startswith(b"%PDF-")
