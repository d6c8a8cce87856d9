"""What the agent says to pupils and parents, in Kazakh, Russian and English.

One catalogue, keyed by message code; every code has all three languages (a test checks it).
"""

from __future__ import annotations

import os
from typing import Final, Literal

Lang = Literal["kk", "ru", "en"]
LANGS: Final[tuple[Lang, ...]] = ("kk", "ru", "en")

MESSAGES: Final[dict[str, dict[Lang, str]]] = {
    "help.sent": {
        "kk": "Көмек сұрауыңыз мектептің техникалық маманына жіберіледі. Олар сізбен байланысады.",
        "ru": "Ваша просьба о помощи будет передана школьному технику. С вами свяжутся.",
        "en": "Your request for help goes to the school's technician. They will contact you.",
    },
    "title": {
        "kk": "Сабаққа дайындықты тексеру",
        "ru": "Проверка готовности к уроку",
        "en": "Lesson readiness check",
    },
    "camera.ok": {
        "kk": "Камера табылды: {name}",
        "ru": "Камера найдена: {name}",
        "en": "Camera found: {name}",
    },
    "camera.missing": {
        "kk": "Камера табылмады. Камераны қосып, қайта тексеріңіз.",
        "ru": "Камера не найдена. Подключите камеру и повторите проверку.",
        "en": "No camera found. Plug in the camera and check again.",
    },
    "microphone.ok": {
        "kk": "Микрофон табылды: {name}",
        "ru": "Микрофон найден: {name}",
        "en": "Microphone found: {name}",
    },
    "microphone.missing": {
        "kk": "Микрофон табылмады. Гарнитураны қосып, қайта тексеріңіз.",
        "ru": "Микрофон не найден. Подключите гарнитуру и повторите проверку.",
        "en": "No microphone found. Plug in the headset and check again.",
    },
    "speakers.ok": {
        "kk": "Дыбыс шығаратын құрылғы табылды: {name}",
        "ru": "Найдены колонки или наушники: {name}",
        "en": "Speakers or headphones found: {name}",
    },
    "speakers.missing": {
        "kk": "Дыбыс шығаратын құрылғы табылмады. Құлаққапты немесе динамикті қосыңыз.",
        "ru": "Колонки или наушники не найдены. Подключите их и повторите проверку.",
        "en": "No speakers or headphones found. Plug in the headphones or speakers.",
    },
    "network.ready": {
        "kk": "Интернет вебинарға дайын (кідіріс {rtt} мс).",
        "ru": "Интернет готов к вебинару (задержка {rtt} мс).",
        "en": "The internet connection is ready for a webinar ({rtt} ms delay).",
    },
    "network.degraded": {
        "kk": "Интернет тұрақсыз, вебинар үзіліп қалуы мүмкін ({reasons}).",
        "ru": "Интернет работает с перебоями, вебинар может прерываться ({reasons}).",
        "en": "The internet connection is poor; the webinar may break up ({reasons}).",
    },
    "network.not_ready": {
        "kk": "Интернет вебинарға дайын емес ({reasons}). Роутерді тексеріңіз.",
        "ru": "Интернет не готов к вебинару ({reasons}). Проверьте роутер.",
        "en": "The internet connection is not ready for a webinar ({reasons}). Check the router.",
    },
    "disk.ok": {
        "kk": "Дискіде орын жеткілікті ({free} ГБ бос).",
        "ru": "Места на диске достаточно (свободно {free} ГБ).",
        "en": "Enough disk space ({free} GB free).",
    },
    "disk.low": {
        "kk": "Дискіде орын аз ({free} ГБ бос). Техникке хабарласыңыз.",
        "ru": "Мало места на диске (свободно {free} ГБ). Обратитесь к технику.",
        "en": "Low disk space ({free} GB free). Contact the technician.",
    },
    "profile.ok": {
        "kk": "Жабдықтар жинақтамасы толық ({profile}).",
        "ru": "Комплект оборудования полный ({profile}).",
        "en": "The equipment kit is complete ({profile}).",
    },
    "profile.missing": {
        "kk": "Жинақтамада жетіспейді: {missing}. Техникке хабарласыңыз.",
        "ru": "В комплекте не хватает: {missing}. Обратитесь к технику.",
        "en": "Missing from the kit: {missing}. Contact the technician.",
    },
    "battery.low": {
        "kk": "Батарея заряды аз ({percent}%). Зарядтағышты қосыңыз.",
        "ru": "Низкий заряд батареи ({percent}%). Подключите зарядное устройство.",
        "en": "Battery low ({percent}%). Plug in the charger.",
    },
    "battery.ok": {
        "kk": "Батарея заряды жеткілікті.",
        "ru": "Заряд батареи в норме.",
        "en": "The battery is fine.",
    },
    "certificate.expired": {
        "kk": "Жинақтаманың сертификаты {date} күні аяқталды: мектеп жинақтаманың күйін көрмейді. "
        "Техниктен тіркеу кодын сұраңыз.",
        "ru": "Сертификат комплекта истёк {date}: школа не видит состояние комплекта. "
        "Попросите у техника код регистрации.",
        "en": "The kit's certificate expired on {date}: the school cannot see how the kit is. "
        "Ask the technician for an enrolment token.",
    },
    "certificate.ok": {
        "kk": "Жинақтама мектепке байланысады (сертификат {date} дейін жарамды).",
        "ru": "Комплект связан со школой (сертификат действителен до {date}).",
        "en": "The kit reports to the school (certificate valid until {date}).",
    },
    "unchecked": {
        "kk": "Тексеру мүмкін болмады: {what} ({reason}).",
        "ru": "Не удалось проверить: {what} ({reason}).",
        "en": "Could not check: {what} ({reason}).",
    },
    "verdict.ready": {
        "kk": "Бәрі дайын: сабаққа қосылуға болады.",
        "ru": "Всё готово: можно подключаться к уроку.",
        "en": "All set: you can join the lesson.",
    },
    "verdict.warnings": {
        "kk": "Сабаққа қосылуға болады, бірақ жоғарыдағы ескертулерге назар аударыңыз.",
        "ru": "Можно подключаться к уроку, но обратите внимание на предупреждения выше.",
        "en": "You can join the lesson, but mind the warnings above.",
    },
    "verdict.not_ready": {
        "kk": "Компьютер сабаққа дайын емес. Жоғарыдағы кеңестерді орындаңыз немесе "
        "техникке хабарласыңыз.",
        "ru": "Компьютер не готов к уроку. Следуйте советам выше или обратитесь к технику.",
        "en": "The computer is not ready for the lesson. Follow the advice above or contact "
        "the technician.",
    },
    "verdict.unconfirmed": {
        "kk": "Дайындықты растау мүмкін болмады. Техникке хабарласыңыз.",
        "ru": "Не удалось подтвердить готовность. Обратитесь к технику.",
        "en": "Readiness could not be confirmed. Contact the technician.",
    },
    "what.camera": {"kk": "камера", "ru": "камера", "en": "camera"},
    "what.microphone": {"kk": "микрофон", "ru": "микрофон", "en": "microphone"},
    "what.speakers": {
        "kk": "дыбыс шығаратын құрылғы",
        "ru": "колонки или наушники",
        "en": "speakers or headphones",
    },
    "what.network": {"kk": "интернет", "ru": "интернет", "en": "internet"},
    "what.disk": {"kk": "диск", "ru": "диск", "en": "disk"},
    "what.profile": {"kk": "жинақтама", "ru": "комплект", "en": "kit"},
    "what.battery": {"kk": "батарея", "ru": "батарея", "en": "battery"},
}


def t(code: str, lang: Lang, **params: object) -> str:
    """The message `code` in `lang`, with its parameters filled in (decimal comma in kk, ru)."""
    if lang != "en":
        params = {
            k: str(v).replace(".", ",") if isinstance(v, float) else v for k, v in params.items()
        }
    return MESSAGES[code][lang].format(**params)


def default_lang(environ: dict[str, str] | None = None) -> Lang:
    """The user's language from LC_ALL / LC_MESSAGES / LANG (kk_KZ → kk, ru_RU → ru), else en."""
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")[:2].lower()
        if value in ("kk", "ru", "en"):
            return value  # type: ignore[return-value]
    return "en"
