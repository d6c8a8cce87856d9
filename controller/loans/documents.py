"""PDF documents for a loan: the contract of free temporary use, the hand-over act, the return act.

Each document exists in Kazakh (`kk`) and Russian (`ru`). Every word a document prints comes from
`TEXTS`, one set of templates per language; the functions here only lay it out. Plain dataclasses
in, PDF bytes out: no database, no clock reads (the PDF's creation date is the document's own date,
so the same loan always gives the same bytes).

The text is set in a TrueType font that covers Cyrillic and the Kazakh letters (ә ғ қ ң ө ұ ү һ і):
DejaVu Sans from Debian's `fonts-dejavu-core` unless the caller passes other `FontFiles`. A font
that is missing, unreadable or lacks a glyph the document needs is a `DocumentError`, never a PDF
with empty boxes in it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from fontTools.ttLib import TTLibError  # type: ignore[import-untyped]
from fpdf import FPDF, FontFace
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import TTFFont

from controller.errors import DocumentError

_LOGGER = logging.getLogger(__name__)

Lang = Literal["kk", "ru"]
LANGUAGES: Final[tuple[Lang, ...]] = ("kk", "ru")

DEFAULT_FONT_DIRS: Final[tuple[Path, ...]] = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian, Ubuntu: fonts-dejavu-core
    Path("/usr/share/fonts/dejavu-sans-fonts"),  # Fedora
    Path("/usr/share/fonts/TTF"),  # Arch
)
"""Where `find_fonts` looks for DejaVu Sans, in order."""

REGULAR_FONT_NAME: Final = "DejaVuSans.ttf"
BOLD_FONT_NAME: Final = "DejaVuSans-Bold.ttf"

_FAMILY: Final = "KitkeeperSans"
_TTF_MAGIC: Final = (b"\x00\x01\x00\x00", b"true", b"OTTO")
_BODY_PT: Final = 10.0
_TABLE_PT: Final = 9.0
_LINE_MM: Final = 5.0
_HEAD_FILL: Final = (230, 230, 230)
_MISSING_STYLE: Final = FontFace(emphasis="BOLD", color=(160, 0, 0), fill_color=(255, 215, 215))


# --- the data a document is made of ------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """A person who signs for the pupil: a parent or another legal representative."""

    name: str
    iin: str
    address: str
    phone: str
    role: str
    """A key of `_Texts.roles` ("parent", "legal representative", "guardian", "trustee"), or a
    word already in the document's language, printed as given."""


@dataclass(frozen=True)
class Pupil:
    """The child the kit is lent for."""

    name: str
    iin: str
    grade: int
    school: str


@dataclass(frozen=True)
class ComponentLine:
    """One component of a kit as a document lists it; the serial identifies it and must be set."""

    kind: str
    model: str
    serial: str
    condition: str


@dataclass(frozen=True)
class LoanDocument:
    """Everything the three documents of one loan print."""

    number: str
    school: str
    city: str
    date: dt.date
    guardian: Party
    pupil: Pupil
    kit_id: str
    components: list[ComponentLine]
    start: dt.date
    end: dt.date
    terms_version: str
    signed_by_school: str
    signed_by_guardian: str | None = None
    notes: str = ""


@dataclass(frozen=True)
class FontFiles:
    """The TrueType files a document is set in: one regular, one bold."""

    regular: Path
    bold: Path


# --- every word the documents print, per language ----------------------------------------------

_TABLE: Final = "<components table>"
"""A clause that is this marker is where the table of components goes."""


@dataclass(frozen=True)
class _Section:
    heading: str
    clauses: tuple[str, ...]


@dataclass(frozen=True)
class _Texts:
    """One language's templates; `str.format` fields are filled from the loan."""

    months: tuple[str, ...]
    long_date: str
    place: str
    grade: str
    roles: dict[str, str]
    # the contract
    contract_title: str
    contract_subtitle: str
    contract_preamble: str
    contract_sections: tuple[_Section, ...]
    contract_signatures_heading: str
    school_party: str
    guardian_party: str
    # the acts
    act_subtitle: str
    handover_title: str
    handover_intro: str
    handover_clauses: tuple[str, ...]
    return_title: str
    return_intro: str
    return_clauses: tuple[str, ...]
    return_missing: str
    return_complete: str
    return_extra: str
    giver: str
    receiver: str
    # shared pieces
    columns: tuple[str, str, str, str, str]
    """No, kind, model, serial, condition."""
    condition_at_handover: str
    condition_at_return: str
    not_returned: str
    not_in_handover: str
    notes: str
    no_notes: str
    iin: str
    address: str
    phone: str
    signature: str
    stamp: str


TEXTS: Final[dict[Lang, _Texts]] = {
    "kk": _Texts(
        months=(
            "қаңтар",
            "ақпан",
            "наурыз",
            "сәуір",
            "мамыр",
            "маусым",
            "шілде",
            "тамыз",
            "қыркүйек",
            "қазан",
            "қараша",
            "желтоқсан",
        ),
        long_date="{year} жылғы {day} {month}",
        place="{city} қ.",
        grade="{grade}-сынып",
        roles={
            "parent": "ата-анасы",
            "legal representative": "заңды өкілі",
            "guardian": "қорғаншысы",
            "trustee": "қамқоршысы",
        },
        contract_title="Уақытша қайтарымсыз пайдалану шарты",
        contract_subtitle="№ {number} (үйде оқитын оқушыға арналған жабдықтар жинақтамасы)",
        contract_preamble=(
            "{school} (бұдан әрі — «Мектеп»), {school_signatory} атынан, бір тараптан, және"
            " {guardian}, ЖСН {guardian_iin}, кәмелетке толмаған оқушының {role} (бұдан әрі —"
            " «Заңды өкіл»), екінші тараптан, бірлесіп «Тараптар» деп аталатындар, Қазақстан"
            " Республикасының Азаматтық кодексіне сәйкес осы шартты төмендегілер туралы жасасты."
        ),
        contract_sections=(
            _Section(
                "ШАРТТЫҢ МӘНІ",
                (
                    "Мектеп Заңды өкілге оқушының үйде оқуы үшін {kit_id} жабдықтар жинақтамасын"
                    " (бұдан әрі — «Жинақтама») уақытша қайтарымсыз пайдалануға береді, ал Заңды"
                    " өкіл оны қабылдап, шарт мерзімі аяқталғанда қайтаруға міндеттенеді.",
                    "Жинақтама мына оқушының білім алуы үшін беріледі: {pupil}, ЖСН {pupil_iin},"
                    " {grade}, {pupil_school}.",
                    "Жинақтаманың құрамы, әр құрамдас бөліктің сериялық нөмірі мен күйі:",
                    _TABLE,
                    "Жинақтама Мектептің балансында қалады. Жинақтаманы пайдалану үшін ақы"
                    " алынбайды.",
                ),
            ),
            _Section(
                "ШАРТТЫҢ МЕРЗІМІ",
                (
                    "Жинақтама мына мерзімге беріледі: {start} — {end} (қоса алғанда).",
                    "Шарт Тараптар қол қойған күннен бастап күшіне енеді және Жинақтама толық"
                    " қайтарылғанға дейін қолданылады.",
                    "Оқушының үйде оқуы мерзімінен бұрын тоқтатылса, Жинақтама он жұмыс күні"
                    " ішінде қайтарылады.",
                ),
            ),
            _Section(
                "МЕКТЕПТІҢ МІНДЕТТЕРІ",
                (
                    "Жинақтаманы жұмыс істейтін күйде, орнатылған бағдарламалық жасақтамасымен"
                    " және шығын материалдарымен бірге қабылдау-тапсыру актісі бойынша тапсыру,"
                    " оқушының үйінде жұмыс орнын баптау.",
                    "Жинақтамаға өз есебінен техникалық қызмет көрсету: ақаулықтарды жедел жою,"
                    " бағдарламалық жасақтаманы уақтылы жаңартып отыру.",
                    "Ақаулы жинақтаманы немесе оның құрамдас бөлігін оқу процесі үзілмейтіндей"
                    " ең қысқа мерзімде ауыстыру.",
                    "Заңды өкіл мен оқушыны Жинақтаманы пайдалануға үйрету, оларға ұйымдастыру"
                    " және техникалық мәселелер бойынша жедел кеңес беру.",
                    "Пайдалану мерзімі аяқталғанда Жинақтаманы қайтару актісі бойынша қабылдап"
                    " алу.",
                ),
            ),
            _Section(
                "ЗАҢДЫ ӨКІЛДІҢ МІНДЕТТЕРІ",
                (
                    "Жинақтаманы ұқыпты пайдалану, оның сақталуын қамтамасыз ету және оны тек"
                    " оқушының оқуы үшін қолдану.",
                    "Жинақтаманы немесе оның бөлігін үшінші тұлғаларға бермеу, жалға бермеу және"
                    " кепілге салмау.",
                    "Ақаулық, зақым немесе жоғалу туралы Мектепке дереу, бір жұмыс күнінен"
                    " кешіктірмей хабарлау; жабдықты өз бетінше ашпау және жөндемеу.",
                    "Техникалық қызмет көрсету және ауыстыру үшін Мектеп қызметкерлерінің"
                    " келуіне келісілген уақытта мүмкіндік беру.",
                    "Пайдалану мерзімі аяқталғанда Жинақтаманы толық жиынтығымен, алған кездегі"
                    " күйінде (қалыпты тозуды ескере отырып) қайтару.",
                ),
            ),
            _Section(
                "ҚОРЫТЫНДЫ ЕРЕЖЕЛЕР",
                (
                    "Заңды өкілдің кінәсінен Жинақтама жоғалған немесе бүлінген жағдайда залал"
                    " Қазақстан Республикасының заңнамасына сәйкес өтеледі. Қалыпты тозу мен"
                    " зауыттық ақаулар үшін Заңды өкіл жауап бермейді.",
                    "Шартта реттелмеген мәселелер Қазақстан Республикасының заңнамасына сәйкес"
                    " шешіледі; даулар келіссөздер арқылы, ал келісімге келмеген жағдайда сот"
                    " тәртібімен шешіледі.",
                    "Қабылдау-тапсыру актісі мен қайтару актісі шарттың ажырамас бөліктері болып"
                    " табылады.",
                    "Шарт бірдей заңды күші бар екі данада жасалды, әр Тарапқа бір данадан."
                    " Шарт талаптарының нұсқасы: {terms_version}.",
                ),
            ),
        ),
        contract_signatures_heading="ТАРАПТАРДЫҢ ДЕРЕКТЕМЕЛЕРІ МЕН ҚОЛДАРЫ",
        school_party="МЕКТЕП",
        guardian_party="ЗАҢДЫ ӨКІЛ",
        act_subtitle="№ {number} уақытша қайтарымсыз пайдалану шартына",
        handover_title="Қабылдау-тапсыру актісі",
        handover_intro=(
            "Біз, төменде қол қойғандар, Мектеп атынан {school_signatory} және Заңды өкіл"
            " {guardian} (ЖСН {guardian_iin}), осы актіні төмендегілер туралы жасадық."
        ),
        handover_clauses=(
            "Мектеп тапсырды, ал Заңды өкіл оқушының үйде оқуы үшін {kit_id} жабдықтар"
            " жинақтамасын қабылдады (оқушы: {pupil}, {grade}). Жинақтаманың құрамы және"
            " тапсыру кезіндегі күйі:",
            _TABLE,
            "Жинақтама тапсыру кезінде тексерілді: жұмыс істейді, бағдарламалық жасақтама"
            " орнатылған, оқушының жұмыс орны бапталған, интернетке қосылу тексерілген.",
            "Оқыту өткізілді: Заңды өкіл мен оқушы Жинақтаманы пайдалануға, электрондық"
            " күнделікке, Е-кітапханаға және вебинарларға кіруге үйретілді; техникалық қолдау"
            " байланыстары берілді. Оқытудан өткендер: {guardian} және {pupil}.",
            "Ақаулық туралы Заңды өкіл Мектепке дереу хабарлайды; Мектеп ақаулы бөлікті оқу"
            " үзілмейтіндей ең қысқа мерзімде ауыстырады.",
        ),
        return_title="Қайтару актісі",
        return_intro=(
            "Біз, төменде қол қойғандар, Заңды өкіл {guardian} (ЖСН {guardian_iin}) және Мектеп"
            " атынан {school_signatory}, осы актіні төмендегілер туралы жасадық."
        ),
        return_clauses=(
            "Заңды өкіл қайтарды, ал Мектеп {kit_id} жабдықтар жинақтамасын қабылдап алды."
            " Қайтару күні: {date_returned}. Құрамдас бөліктер және олардың күйі:",
            _TABLE,
            "Барлығы берілген: {issued}; қайтарылған: {returned}; қайтарылмаған: {missing}.",
        ),
        # 5.1 is the contract's clause on loss and damage, in both languages.
        return_missing=(
            "Қайтарылмаған құрамдас бөліктер кестеде белгіленген: {missing_list}. Олар бойынша"
            " Тараптар шарттың 5.1-тармағына сәйкес шешім қабылдайды."
        ),
        return_complete=(
            "Жинақтама толық жиынтығымен қайтарылды; Тараптардың бір-біріне мүліктік талаптары жоқ."
        ),
        return_extra=(
            "Қабылдау-тапсыру актісінде көрсетілмеген (ауыстыру ретінде берілген) құрамдас"
            " бөліктер де қайтарылды: {extra_list}."
        ),
        giver="ТАПСЫРУШЫ ТАРАП: {party}",
        receiver="ҚАБЫЛДАУШЫ ТАРАП: {party}",
        columns=("№", "Атауы", "Үлгісі", "Сериялық нөмірі", "Күйі"),
        condition_at_handover="Берілген кездегі күйі",
        condition_at_return="Қайтарылған кездегі күйі",
        not_returned="ҚАЙТАРЫЛМАДЫ",
        not_in_handover="актіде жоқ",
        notes="Ескертпе: {notes}",
        no_notes="Тараптардың бір-біріне ескертулері жоқ.",
        iin="ЖСН {iin}",
        address="Мекенжайы: {address}",
        phone="Телефоны: {phone}",
        signature="(қолы)",
        stamp="М.О.",
    ),
    "ru": _Texts(
        months=(
            "января",
            "февраля",
            "марта",
            "апреля",
            "мая",
            "июня",
            "июля",
            "августа",
            "сентября",
            "октября",
            "ноября",
            "декабря",
        ),
        long_date="{day} {month} {year} г.",
        place="г. {city}",
        grade="{grade} класс",
        roles={
            "parent": "родитель",
            "legal representative": "законный представитель",
            "guardian": "опекун",
            "trustee": "попечитель",
        },
        contract_title="Договор временного безвозмездного пользования",
        contract_subtitle="№ {number} (комплект оборудования для учащегося на домашнем обучении)",
        contract_preamble=(
            "{school} (далее — «Школа»), от имени которой действует {school_signatory}, с одной"
            " стороны, и {guardian}, ИИН {guardian_iin}, {role} несовершеннолетнего учащегося"
            " (далее — «Законный представитель»), с другой стороны, совместно именуемые"
            " «Стороны», в соответствии с Гражданским кодексом Республики Казахстан заключили"
            " настоящий договор о нижеследующем."
        ),
        contract_sections=(
            _Section(
                "ПРЕДМЕТ ДОГОВОРА",
                (
                    "Школа передаёт Законному представителю во временное безвозмездное"
                    " пользование комплект оборудования {kit_id} (далее — «Комплект») для"
                    " обучения учащегося на дому, а Законный представитель принимает Комплект и"
                    " обязуется вернуть его по окончании срока договора.",
                    "Комплект предоставляется для обучения учащегося: {pupil}, ИИН {pupil_iin},"
                    " {grade}, {pupil_school}.",
                    "Состав Комплекта с серийным номером и состоянием каждого компонента:",
                    _TABLE,
                    "Комплект остаётся на балансе Школы. Плата за пользование Комплектом не"
                    " взимается.",
                ),
            ),
            _Section(
                "СРОК ДОГОВОРА",
                (
                    "Комплект предоставляется на срок с {start} по {end} включительно.",
                    "Договор вступает в силу со дня его подписания Сторонами и действует до"
                    " полного возврата Комплекта.",
                    "При досрочном прекращении обучения учащегося на дому Комплект возвращается"
                    " в течение десяти рабочих дней.",
                ),
            ),
            _Section(
                "ОБЯЗАННОСТИ ШКОЛЫ",
                (
                    "Передать Комплект в исправном состоянии, с установленным программным"
                    " обеспечением и расходными материалами, по акту приёма-передачи и настроить"
                    " рабочее место учащегося на дому.",
                    "За свой счёт осуществлять техническое обслуживание Комплекта: оперативно"
                    " устранять неисправности, своевременно обновлять программное обеспечение.",
                    "Заменять неисправный Комплект или его компонент в кратчайшие сроки, чтобы"
                    " учебный процесс не прерывался.",
                    "Обучить Законного представителя и учащегося пользованию Комплектом,"
                    " оперативно консультировать их по организационным и техническим вопросам.",
                    "По окончании срока пользования принять Комплект по акту возврата.",
                ),
            ),
            _Section(
                "ОБЯЗАННОСТИ ЗАКОННОГО ПРЕДСТАВИТЕЛЯ",
                (
                    "Бережно пользоваться Комплектом, обеспечивать его сохранность и использовать"
                    " его только для обучения учащегося.",
                    "Не передавать Комплект или его части третьим лицам, не сдавать их в аренду и"
                    " не передавать в залог.",
                    "Незамедлительно, не позднее одного рабочего дня, сообщать Школе о"
                    " неисправности, повреждении или утрате; не вскрывать и не ремонтировать"
                    " оборудование самостоятельно.",
                    "Обеспечивать доступ работников Школы для технического обслуживания и замены"
                    " в согласованное время.",
                    "По окончании срока пользования вернуть Комплект в полной комплектации в"
                    " состоянии, в котором он был получен, с учётом нормального износа.",
                ),
            ),
            _Section(
                "ЗАКЛЮЧИТЕЛЬНЫЕ ПОЛОЖЕНИЯ",
                (
                    "Ущерб от утраты или повреждения Комплекта по вине Законного представителя"
                    " возмещается в соответствии с законодательством Республики Казахстан. За"
                    " нормальный износ и заводские дефекты Законный представитель не отвечает.",
                    "Вопросы, не урегулированные договором, решаются в соответствии с"
                    " законодательством Республики Казахстан; споры разрешаются путём"
                    " переговоров, а при недостижении согласия — в судебном порядке.",
                    "Акт приёма-передачи и акт возврата являются неотъемлемыми частями договора.",
                    "Договор составлен в двух экземплярах, имеющих одинаковую юридическую силу,"
                    " по одному для каждой из Сторон. Версия условий: {terms_version}.",
                ),
            ),
        ),
        contract_signatures_heading="РЕКВИЗИТЫ И ПОДПИСИ СТОРОН",
        school_party="ШКОЛА",
        guardian_party="ЗАКОННЫЙ ПРЕДСТАВИТЕЛЬ",
        act_subtitle="к договору временного безвозмездного пользования № {number}",
        handover_title="Акт приёма-передачи",
        handover_intro=(
            "Мы, нижеподписавшиеся, представитель Школы {school_signatory} и Законный"
            " представитель {guardian} (ИИН {guardian_iin}), составили настоящий акт о"
            " нижеследующем."
        ),
        handover_clauses=(
            "Школа передала, а Законный представитель принял комплект оборудования {kit_id} для"
            " обучения учащегося на дому (учащийся: {pupil}, {grade}). Состав Комплекта и"
            " состояние при передаче:",
            _TABLE,
            "Комплект проверен при передаче: исправен, программное обеспечение установлено,"
            " рабочее место учащегося настроено, подключение к интернету проверено.",
            "Обучение проведено: Законный представитель и учащийся обучены пользованию"
            " Комплектом, входу в электронный дневник, Е-библиотеку и вебинары; переданы"
            " контакты технической поддержки. Обучение прошли: {guardian} и {pupil}.",
            "О неисправности Законный представитель незамедлительно сообщает Школе; Школа"
            " заменяет неисправный компонент в кратчайшие сроки, чтобы обучение не прерывалось.",
        ),
        return_title="Акт возврата",
        return_intro=(
            "Мы, нижеподписавшиеся, Законный представитель {guardian} (ИИН {guardian_iin}) и"
            " представитель Школы {school_signatory}, составили настоящий акт о нижеследующем."
        ),
        return_clauses=(
            "Законный представитель вернул, а Школа приняла {date_returned} комплект"
            " оборудования {kit_id}. Компоненты и их состояние:",
            _TABLE,
            "Всего передано: {issued}; возвращено: {returned}; не возвращено: {missing}.",
        ),
        return_missing=(
            "Невозвращённые компоненты выделены в таблице: {missing_list}. По ним Стороны"
            " принимают решение в соответствии с пунктом 5.1 договора."
        ),
        return_complete=(
            "Комплект возвращён в полной комплектации; имущественных претензий Стороны друг к"
            " другу не имеют."
        ),
        return_extra=(
            "Также возвращены компоненты, не указанные в акте приёма-передачи (выданные"
            " взамен): {extra_list}."
        ),
        giver="ПЕРЕДАЮЩАЯ СТОРОНА: {party}",
        receiver="ПРИНИМАЮЩАЯ СТОРОНА: {party}",
        columns=("№", "Наименование", "Модель", "Серийный номер", "Состояние"),
        condition_at_handover="Состояние при передаче",
        condition_at_return="Состояние при возврате",
        not_returned="НЕ ВОЗВРАЩЕНО",
        not_in_handover="нет в акте",
        notes="Примечание: {notes}",
        no_notes="Замечаний у Сторон нет.",
        iin="ИИН {iin}",
        address="Адрес: {address}",
        phone="Телефон: {phone}",
        signature="(подпись)",
        stamp="М.П.",
    ),
}
"""Every word the documents print, per language: the one place to correct or translate them."""


# --- fonts -------------------------------------------------------------------------------------


def find_fonts(search_dirs: Sequence[Path] = DEFAULT_FONT_DIRS) -> FontFiles:
    """Return DejaVu Sans regular and bold from the first directory that holds both."""
    for directory in search_dirs:
        files = FontFiles(directory / REGULAR_FONT_NAME, directory / BOLD_FONT_NAME)
        if files.regular.is_file() and files.bold.is_file():
            return files
    looked = ", ".join(str(d) for d in search_dirs) or "nowhere"
    raise DocumentError(
        f"cannot find the font {REGULAR_FONT_NAME} and {BOLD_FONT_NAME} (looked in: {looked});"
        " install Debian's fonts-dejavu-core or pass FontFiles with a TrueType font that covers"
        " Cyrillic and the Kazakh letters"
    )


def _check_font_file(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise DocumentError(f"cannot read the font file {path}: {exc.strerror or exc}") from exc
    if magic not in _TTF_MAGIC:
        raise DocumentError(f"the font file {path} is not a TrueType or OpenType font")


# --- layout --------------------------------------------------------------------------------------


class _Pdf(FPDF):
    """An A4 page with the document number and page count in the footer."""

    def __init__(self, footer: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._footer = footer

    def footer(self) -> None:
        """Print "№ number · page/pages" at the bottom of every page."""
        self.set_y(-12)
        self.set_font(_FAMILY, size=8)
        self.set_text_color(90)
        self.cell(0, 5, f"{self._footer} · {self.page_no()}/{{nb}}", align=Align.C)
        self.set_text_color(0)


@dataclass
class _Writer:
    """Lays out one document: headings, numbered clauses, tables and the signatures block."""

    texts: _Texts
    lang: Lang
    fonts: FontFiles
    footer: str
    created: dt.date
    pdf: _Pdf = field(init=False)

    def __post_init__(self) -> None:
        self.pdf = _Pdf(self.footer)
        # The document's own date, not the clock: the same loan always renders the same bytes.
        self.pdf.set_creation_date(dt.datetime.combine(self.created, dt.time(), tzinfo=dt.UTC))
        self.pdf.set_creator("kitkeeper")
        for style, path in (("", self.fonts.regular), ("B", self.fonts.bold)):
            _check_font_file(path)
            try:
                self.pdf.add_font(_FAMILY, style, path)
            except (OSError, ValueError, KeyError, TTLibError) as exc:
                raise DocumentError(f"cannot load the font file {path}: {exc}") from exc
        self.pdf.set_lang(self.lang)
        self.pdf.set_margins(left=20, top=15, right=15)
        self.pdf.set_auto_page_break(auto=True, margin=18)
        self.pdf.add_page()

    def title(self, title: str, subtitle: str, place: str, when: str) -> None:
        """Centered title and subtitle, then the place on the left and the date on the right."""
        pdf = self.pdf
        pdf.set_title(f"{title} {subtitle}")
        pdf.set_font(_FAMILY, "B", 14)
        pdf.multi_cell(0, 7, title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(_FAMILY, "", 11)
        pdf.multi_cell(0, 6, subtitle, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
        pdf.set_font(_FAMILY, "", _BODY_PT)
        half = pdf.epw / 2
        pdf.cell(half, _LINE_MM, place, align=Align.L)
        pdf.cell(half, _LINE_MM, when, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)

    def heading(self, text: str) -> None:
        """A bold, centered section heading, kept on the same page as a few lines after it."""
        if self.pdf.will_page_break(20):
            self.pdf.add_page()
        self.pdf.ln(2)
        self.pdf.set_font(_FAMILY, "B", _BODY_PT + 0.5)
        self.pdf.multi_cell(0, 6, text, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.set_font(_FAMILY, "", _BODY_PT)

    def paragraph(self, text: str) -> None:
        """A justified paragraph of body text."""
        self.pdf.set_font(_FAMILY, "", _BODY_PT)
        self.pdf.multi_cell(0, _LINE_MM, text, align=Align.J, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.ln(1)

    def table(
        self,
        head: Sequence[str],
        rows: Sequence[tuple[Sequence[str], FontFace | None]],
        widths: Sequence[float],
    ) -> None:
        """A bordered table with a grey heading row repeated on every page; a row may be styled."""
        pdf = self.pdf
        pdf.set_font(_FAMILY, "", _TABLE_PT)
        with pdf.table(
            col_widths=tuple(widths),
            text_align=Align.L,
            headings_style=FontFace(emphasis="BOLD", fill_color=_HEAD_FILL),
            line_height=4.5,
            padding=(1, 1.5),
        ) as table:
            heading = table.row()
            for text in head:
                heading.cell(text)
            for cells, style in rows:
                row = table.row()
                for text in cells:
                    row.cell(text, style=style)
        pdf.set_font(_FAMILY, "", _BODY_PT)
        pdf.ln(2)

    def signatures(self, left: tuple[str, list[str]], right: tuple[str, list[str]]) -> None:
        """Two borderless columns, each a bold heading over lines of details and a signature."""
        pdf = self.pdf
        pdf.ln(4)
        if pdf.will_page_break(45):
            pdf.add_page()
        pdf.set_font(_FAMILY, "", _BODY_PT)
        with pdf.table(
            col_widths=(1, 1),
            text_align=Align.L,
            borders_layout=TableBordersLayout.NONE,
            headings_style=FontFace(emphasis="BOLD"),
            line_height=_LINE_MM,
            padding=(1, 3, 1, 0),
        ) as table:
            heading = table.row()
            heading.cell(left[0])
            heading.cell(right[0])
            body = table.row()
            body.cell("\n".join(left[1]))
            body.cell("\n".join(right[1]))

    def output(self) -> bytes:
        """The finished PDF; refuses one that would show empty boxes for missing glyphs."""
        for font in self.pdf.fonts.values():
            if isinstance(font, TTFFont) and font.missing_glyphs:
                letters = " ".join(sorted(chr(c) for c in font.missing_glyphs))
                raise DocumentError(
                    f"the font {font.ttffile} has no glyph for: {letters}; use a font that covers"
                    " Cyrillic and the Kazakh letters, such as DejaVu Sans"
                )
        return bytes(self.pdf.output())


# --- pieces the three documents share ----------------------------------------------------------


def _long_date(texts: _Texts, day: dt.date) -> str:
    return texts.long_date.format(day=day.day, month=texts.months[day.month - 1], year=day.year)


def _signature(texts: _Texts, name: str) -> list[str]:
    """A line to sign on, and the signer's name spelled out in capitals underneath it."""
    return ["", f"{'_' * 28} {texts.signature}", name.upper()]


def _fields(doc: LoanDocument, texts: _Texts) -> dict[str, str]:
    """The values every template may use."""
    return {
        "number": doc.number,
        "school": doc.school,
        "city": doc.city,
        "school_signatory": doc.signed_by_school,
        "guardian": doc.guardian.name,
        "guardian_iin": doc.guardian.iin,
        "role": texts.roles.get(doc.guardian.role.strip().lower(), doc.guardian.role),
        "pupil": doc.pupil.name,
        "pupil_iin": doc.pupil.iin,
        "pupil_school": doc.pupil.school,
        "grade": texts.grade.format(grade=doc.pupil.grade),
        "kit_id": doc.kit_id,
        "start": _long_date(texts, doc.start),
        "end": _long_date(texts, doc.end),
        "terms_version": doc.terms_version,
        "notes": doc.notes.strip(),
    }


def _serial_key(line: ComponentLine) -> str:
    return line.serial.strip().casefold()


def _validate(doc: LoanDocument, lang: str) -> _Texts:
    """Refuse what no document should say; return the language's templates."""
    if lang not in TEXTS:
        raise DocumentError(f"no document texts in language {lang!r}; choose one of {LANGUAGES}")
    if doc.end < doc.start:
        raise DocumentError(f"loan {doc.number}: the term ends ({doc.end}) before it starts")
    if not doc.components:
        raise DocumentError(f"loan {doc.number}: a kit with no components cannot be lent")
    _check_serials(doc.components, f"loan {doc.number}")
    return TEXTS[lang]


def _check_serials(lines: Sequence[ComponentLine], where: str) -> None:
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        key = _serial_key(line)
        if not key:
            raise DocumentError(f"{where}: component {number} ({line.kind}) has no serial number")
        if key in seen:
            raise DocumentError(f"{where}: serial {line.serial} is listed twice")
        seen.add(key)


def _numbered(
    writer: _Writer,
    clauses: Sequence[str],
    values: dict[str, str],
    table: Callable[[], None],
    prefix: str = "",
) -> None:
    """Numbered clauses ("1.", or "2.1." with a prefix); the table marker draws the table."""
    number = 0
    for clause in clauses:
        if clause == _TABLE:
            table()
            continue
        number += 1
        writer.paragraph(f"{prefix}{number}. {clause.format(**values)}")


def _components_rows(
    lines: Sequence[ComponentLine],
) -> list[tuple[Sequence[str], FontFace | None]]:
    return [
        ((str(n), line.kind, line.model, line.serial, line.condition), None)
        for n, line in enumerate(lines, start=1)
    ]


def _school_column(doc: LoanDocument, texts: _Texts, heading: str) -> tuple[str, list[str]]:
    lines = [doc.school, texts.place.format(city=doc.city)]
    return heading, [*lines, *_signature(texts, doc.signed_by_school), texts.stamp]


def _guardian_column(doc: LoanDocument, texts: _Texts, heading: str) -> tuple[str, list[str]]:
    guardian = doc.guardian
    lines = [
        guardian.name,
        texts.iin.format(iin=guardian.iin),
        texts.address.format(address=guardian.address),
        texts.phone.format(phone=guardian.phone),
        *_signature(texts, doc.signed_by_guardian or guardian.name),
    ]
    return heading, lines


_WIDTHS_5: Final = (0.06, 0.24, 0.26, 0.22, 0.22)
_WIDTHS_6: Final = (0.05, 0.17, 0.17, 0.19, 0.19, 0.23)


# --- the documents -----------------------------------------------------------------------------


def contract_pdf(doc: LoanDocument, lang: Lang, *, fonts: FontFiles | None = None) -> bytes:
    """Render the contract of free temporary use of the kit as a PDF in Kazakh or Russian."""
    texts = _validate(doc, lang)
    values = _fields(doc, texts)
    writer = _Writer(texts, lang, fonts or find_fonts(), f"№ {doc.number}", doc.date)
    writer.title(
        texts.contract_title,
        texts.contract_subtitle.format(**values),
        texts.place.format(city=doc.city),
        _long_date(texts, doc.date),
    )
    writer.paragraph(texts.contract_preamble.format(**values))

    def table() -> None:
        writer.table(texts.columns, _components_rows(doc.components), _WIDTHS_5)

    sections = texts.contract_sections
    for number, section in enumerate(sections, start=1):
        clauses = section.clauses
        if number == len(sections) and values["notes"]:
            clauses = (*clauses, texts.notes)
        writer.heading(f"{number}. {section.heading}")
        _numbered(writer, clauses, values, table, prefix=f"{number}.")
    writer.heading(f"{len(texts.contract_sections) + 1}. {texts.contract_signatures_heading}")
    writer.signatures(
        _school_column(doc, texts, texts.school_party),
        _guardian_column(doc, texts, texts.guardian_party),
    )
    _LOGGER.debug("rendered contract %s in %s", doc.number, lang)
    return writer.output()


def handover_act_pdf(doc: LoanDocument, lang: Lang, *, fonts: FontFiles | None = None) -> bytes:
    """Render the hand-over act: components, serials and condition at hand-over, training."""
    texts = _validate(doc, lang)
    values = _fields(doc, texts)
    writer = _Writer(texts, lang, fonts or find_fonts(), f"№ {doc.number}", doc.date)
    writer.title(
        texts.handover_title,
        texts.act_subtitle.format(**values),
        texts.place.format(city=doc.city),
        _long_date(texts, doc.date),
    )
    writer.paragraph(texts.handover_intro.format(**values))
    head = (*texts.columns[:4], texts.condition_at_handover)

    def table() -> None:
        writer.table(head, _components_rows(doc.components), _WIDTHS_5)

    clauses = (*texts.handover_clauses, texts.notes if values["notes"] else texts.no_notes)
    _numbered(writer, clauses, values, table)
    writer.signatures(
        _school_column(doc, texts, texts.giver.format(party=texts.school_party)),
        _guardian_column(doc, texts, texts.receiver.format(party=texts.guardian_party)),
    )
    _LOGGER.debug("rendered hand-over act %s in %s", doc.number, lang)
    return writer.output()


def return_act_pdf(
    doc: LoanDocument,
    lang: Lang,
    *,
    returned: list[ComponentLine],
    date_returned: dt.date,
    fonts: FontFiles | None = None,
) -> bytes:
    """Render the return act: each component's condition at return, missing ones highlighted."""
    texts = _validate(doc, lang)
    _check_serials(returned, f"return of loan {doc.number}")
    if date_returned < doc.start:
        raise DocumentError(
            f"loan {doc.number}: returned on {date_returned}, before the term starts ({doc.start})"
        )
    back = {_serial_key(line): line for line in returned}
    issued_keys = {_serial_key(line) for line in doc.components}
    rows: list[tuple[Sequence[str], FontFace | None]] = []
    missing: list[ComponentLine] = []
    for n, line in enumerate(doc.components, start=1):
        got = back.get(_serial_key(line))
        if got is None:
            missing.append(line)
        condition, style = (got.condition, None) if got else (texts.not_returned, _MISSING_STYLE)
        rows.append(
            ((str(n), line.kind, line.model, line.serial, line.condition, condition), style)
        )
    extra = [line for line in returned if _serial_key(line) not in issued_keys]
    for n, line in enumerate(extra, start=len(rows) + 1):
        cells = (str(n), line.kind, line.model, line.serial, texts.not_in_handover, line.condition)
        rows.append((cells, None))

    values = _fields(doc, texts) | {
        "date_returned": _long_date(texts, date_returned),
        "issued": str(len(doc.components)),
        "returned": str(len(doc.components) - len(missing)),
        "missing": str(len(missing)),
        "missing_list": ", ".join(f"{line.kind} {line.serial}" for line in missing),
        "extra_list": ", ".join(f"{line.kind} {line.serial}" for line in extra),
    }
    writer = _Writer(texts, lang, fonts or find_fonts(), f"№ {doc.number}", date_returned)
    writer.title(
        texts.return_title,
        texts.act_subtitle.format(**values),
        texts.place.format(city=doc.city),
        _long_date(texts, date_returned),
    )
    writer.paragraph(texts.return_intro.format(**values))
    head = (*texts.columns[:4], texts.condition_at_handover, texts.condition_at_return)

    def table() -> None:
        writer.table(head, rows, _WIDTHS_6)

    clauses = list(texts.return_clauses)
    clauses.append(texts.return_missing if missing else texts.return_complete)
    if extra:
        clauses.append(texts.return_extra)
    clauses.append(texts.notes if values["notes"] else texts.no_notes)
    _numbered(writer, clauses, values, table)
    writer.signatures(
        _guardian_column(doc, texts, texts.giver.format(party=texts.guardian_party)),
        _school_column(doc, texts, texts.receiver.format(party=texts.school_party)),
    )
    _LOGGER.debug("rendered return act %s in %s", doc.number, lang)
    return writer.output()
