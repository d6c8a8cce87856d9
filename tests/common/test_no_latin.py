"""Every word a Kazakh or Russian reader reads is in their language (issue 13).

The catalogues' kk and ru texts, the agent's doctor (real `kitkeeper-agent doctor` and a report
with every requirement of every profile missing) and a sample of a running controller's refusals
asked for in kk and ru hold no Latin-script word outside an allow-list: product, brand, protocol
and format names (Orca, MQTT, CSV), the API's own identifiers (field names and accepted values,
from the OpenAPI schema) and the values the test itself sent (serials, kit ids, models).

Also, against the running controller: Accept-Language (or ?lang=) gives `detail` in Russian or
Kazakh, English when nothing is asked; a validation error says what is accepted in words, without
the regex nor pydantic's link; a contract's refusal names its state and action in the language.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent import doctor
from common.i18n import LANGS, LOCALE_DIR, Lang, catalogue
from controller.api.app import create_app
from controller.config import ControllerSettings
from protocol.base import Unavailable
from protocol.inventory import (
    Connectivity,
    DeviceKind,
    EndpointProbe,
    Peripheral,
    Peripherals,
    ProfileCheck,
    Readiness,
    Verdict,
)
from protocol.models import Disk
from tests.controller.records import CONTRACT, PARTS, PUPIL, setup_loan
from tests.support import Broker, Controller, start_broker

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

NAMES = {
    # products, programs and brands
    "Orca", "brltty", "BrlAPI", "fwupd", "GNOME", "Shell", "speech-dispatcher", "Excel",
    "kitkeeper-agent", "kitkeeper-controller",
    # protocols, formats and standards
    "API", "CSV", "JSON", "UUID", "UTC", "DNS", "MQTT", "MQTTS", "USB", "PDF", "URL", "HTTP",
    "HTTPS", "TLS", "UTF-8", "BOM", "YAML", "iCalendar", "ICS", "RRULE", "FREQ", "DAILY",
    "WEEKLY", "MONTHLY", "YEARLY", "SUMMARY", "UID", "DTSTART", "GET", "POST", "PUT", "PATCH",
    "DELETE", "Wi-Fi", "IANA", "Bearer",
    # JSON values a person types
    "true", "false", "null",
}  # fmt: skip
"""Latin-script words a Kazakh or Russian text may hold: names, not words of a language."""

_CODE = (
    re.compile(r"\{[^{}]*\}"),  # a placeholder (with its format): its value is checked where filled
    re.compile(r"`[^`]*`"),  # a command or a field quoted as code
    re.compile(r"kitkeeper-(?:agent|controller)(?: +[A-Za-z0-9{}_.=:/<>-]+)*"),  # a command line
    re.compile(r"\S*/\S*"),  # a path, a URL, an API route
    re.compile(r"\?\S+"),  # a query string
    re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[a-z]{2,}(?::\d+)?"),  # a host or file name
    re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*"),  # a command-line option
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.+-]*[A-Za-z0-9]|[A-Za-z]")


def latin_words(text: str, allowed: Iterable[str] = ()) -> set[str]:
    """The Latin-script words of `text` (two letters or more) that are not allowed."""
    for code in _CODE:
        text = code.sub(" ", text)
    ok = NAMES | set(allowed)
    return {
        word
        for word in _WORD.findall(text)
        if len(re.sub("[^A-Za-z]", "", word)) >= 2 and word not in ok and word.strip(".") not in ok
    }


def _identifiers(node: Any) -> Iterator[str]:
    """Property names, parameter names and enumerated values in an OpenAPI schema."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            if key == "enum" and isinstance(value, list):
                yield from (str(v) for v in value)
            if key == "name" and isinstance(value, str):
                yield value
            yield from _identifiers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _identifiers(item)


@pytest.fixture(scope="module")
def api_words(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The API's identifiers (a person types them: `?update=true`, `force`, `temporary`)."""
    tmp = tmp_path_factory.mktemp("openapi")
    settings = ControllerSettings(db=f"sqlite:///{tmp}/k.db", pki_dir=tmp / "no-pki")
    spec = create_app(settings, with_ingest=False).openapi()
    return set(_identifiers(spec)) | {"file"}  # the multipart upload's field


def test_the_allow_list_is_no_loophole() -> None:
    assert latin_words("Камера табылды: C270") == set()
    assert latin_words("Құрамдас бөлік webcam жарамды (good)") == {"webcam", "good"}
    assert latin_words("{kind}: {first:%Y} `--kit-id` /api/v1/kits?x=1") == set()
    assert latin_words("Жиынтық handed over") == {"handed", "over"}


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_no_catalogue_text_in_kazakh_or_russian_holds_an_english_word(
    lang: Lang, api_words: set[str]
) -> None:
    found = {}
    for path in sorted((LOCALE_DIR / lang).glob("*.toml")):
        for key, text in tomllib.loads(path.read_text(encoding="utf-8")).items():
            if words := latin_words(text, api_words):
                found[f"{path.stem}:{key}"] = sorted(words)
    assert found == {}


# --- the agent's doctor -------------------------------------------------------------------------


def _every_label() -> list[str]:
    labels = []
    for path in sorted((ROOT / "images" / "profiles").glob("*.yaml")):
        profile = yaml.safe_load(path.read_text(encoding="utf-8"))
        for section in ("peripherals", "software", "accessibility"):
            labels += [item["label"] for item in profile.get(section) or []]
    return labels


def _report_with_everything_wrong(lang: Lang) -> str:
    probe = EndpointProbe(name="webinar", host="h", port=443, sent=4, received=0, loss_percent=100)
    reasons = [
        "no default route",
        "DNS: name resolution failed",
        "webinar: unreachable (connection refused)",
        "broker: round trip 420.5 ms > 300 ms",
        "controller: jitter 61 ms > 50 ms",
        "webinar: loss 12.5% > 10%",
    ]
    checks = doctor.evaluate(
        peripherals=Peripherals(devices=[Peripheral(kind=DeviceKind.CAMERA, name="C270")]),
        connectivity=Connectivity(
            link_up=True,
            default_route=None,
            endpoints=[probe],
            readiness=Readiness(verdict=Verdict.NOT_READY, reasons=reasons),
        ),
        disks=Unavailable(unavailable="no disk"),
        battery=Unavailable(unavailable="no battery"),
        profile=ProfileCheck(profile="blind", complete=False, missing=_every_label()),
    )
    unchecked = doctor.evaluate(
        peripherals=Unavailable(unavailable="lsusb: command not found"),
        connectivity=Unavailable(unavailable="skipped: --fast"),
        disks=[Disk(mountpoint="/", device="/dev/sda1", fstype="ext4", total_bytes=10**11,
                    used_bytes=10**9, free_bytes=99 * 10**9, used_percent=1.0)],
        battery=Unavailable(unavailable="no battery"),
        profile=ProfileCheck(profile="low-vision", complete=True),
    )  # fmt: skip
    return doctor.render(checks, lang) + doctor.render(unchecked, lang)


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_the_doctor_says_everything_in_kazakh_and_russian(lang: Lang) -> None:
    report = _report_with_everything_wrong(lang)
    assert latin_words(report, {"C270"}) == set(), report
    assert catalogue("inventory").text("kind.braille_display", lang) in report


@pytest.mark.processes
def test_the_real_doctor_says_everything_in_kazakh_and_russian(tmp_path: Path) -> None:
    """`kitkeeper-agent doctor` on this machine (whatever it has), in both languages at once."""
    runs = {
        lang: subprocess.Popen(
            [str(BIN / "kitkeeper-agent"), "doctor", "--lang", lang, "--profile", "blind",
             "--webinar", "127.0.0.1:9"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path,
        )
        for lang in LANGS[:2]
    }  # fmt: skip
    for lang, run in runs.items():
        out, _ = run.communicate(timeout=60)
        assert catalogue("agent").text("title", lang) in out
        devices = re.findall(r": ([^\n]*[A-Za-z][^\n]*)$", out, re.M)  # a device's own name
        assert latin_words(out, {w for d in devices for w in _WORD.findall(d)}) == set(), out


# --- a running controller's answers -------------------------------------------------------------

OTHERS = [
    ("/api/v1/components", {**PARTS[0], "serial": "SN-NEW-1", "kit_id": "kit-nowhere"}),
    ("/api/v1/pupils", {**PUPIL, "ref": "p-900", "iin": "070101500014", "teacher": "aliya"}),
    ("/api/v1/auth/token", {"username": "nobody", "password": "not-the-password"}),
]
"""Refusals of other domains that carry their messages (an unknown kit, an unknown teacher, a
wrong password)."""


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    """One controller for the module, a draft contract on it."""
    tmp = tmp_path_factory.mktemp("no-latin")
    broker: Broker = start_broker(tmp)
    controller = Controller(tmp, broker)
    try:
        controller.start()
        setup_loan(controller)
        yield controller
    finally:
        controller.stop()
        broker.stop()


def ask(
    controller: Controller,
    path: str,
    body: Any,
    *,
    lang: str | None = None,
    role: str = "admin",
    method: str = "POST",
) -> tuple[int, dict[str, Any]]:
    """POST (or `method`) JSON as `role` with Accept-Language `lang` (none: no header)."""
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {controller.tokens[role]}",
    }
    if lang:
        headers["Accept-Language"] = lang
    request = urllib.request.Request(
        controller.url + path, json.dumps(body).encode(), headers, method=method
    )
    try:
        with urllib.request.urlopen(request, context=controller.context, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def put(controller: Controller, path: str, body: Any, lang: str) -> tuple[int, dict[str, Any]]:
    """PUT JSON as an admin, in `lang`."""
    return ask(controller, path, body, lang=lang, method="PUT")


WEAK = {"current_password": "whatever-it-is", "new_password": "abc"}
BAD_CONTRACT = {
    **CONTRACT,
    "number": "№ 17/2025 (копия)",
    "kit_id": "комплект 1",
    "guardian_ref": None,
    "color": "blue",
}
SENT = {w for p in PARTS for v in p.values() for w in _WORD.findall(v)} | {"kit-l1", "teacher"}


@pytest.mark.processes
def test_the_detail_follows_accept_language_and_english_stays_the_default(
    running: Controller,
) -> None:
    english = ask(running, "/api/v1/auth/password", WEAK, role="teacher")
    russian = ask(
        running, "/api/v1/auth/password", WEAK, lang="ru-RU,ru;q=0.9,en;q=0.5", role="teacher"
    )
    kazakh = ask(running, "/api/v1/auth/password?lang=kk", WEAK, lang="ru", role="teacher")
    assert english[0] == russian[0] == kazakh[0] == 422
    assert english[1]["detail"] == english[1]["messages"]["en"], "clients asking nothing: English"
    assert russian[1]["detail"] == russian[1]["messages"]["ru"] != english[1]["detail"]
    assert re.search("[а-яё]", russian[1]["detail"])
    assert kazakh[1]["detail"] == kazakh[1]["messages"]["kk"], "?lang= wins over the header"
    request = urllib.request.Request(
        running.url + "/api/v1/kits", headers={"Accept-Language": "kk"}
    )
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(request, context=running.context, timeout=30)
    assert anonymous.value.code == 401
    assert anonymous.value.headers["WWW-Authenticate"] == "Bearer"
    assert json.load(anonymous.value)["detail"] == catalogue("api").text("auth.sign_in", "kk")
    status, role = ask(running, "/api/v1/contracts", CONTRACT, lang="ru", role="teacher")
    assert status == 403, role
    assert role["detail"] == "для этого нужна роль: администратор; ваша роль: учитель"


@pytest.mark.processes
@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_a_validation_error_says_in_plain_words_what_is_accepted(
    running: Controller, lang: Lang, api_words: set[str]
) -> None:
    status, body = ask(running, "/api/v1/contracts", BAD_CONTRACT, lang=lang)
    assert status == 422, body
    text = json.dumps(body, ensure_ascii=False)
    assert "http" not in text, "no link to pydantic's documentation"
    assert not re.search(r"\^\[|\]\{|\$\"|\\\\", text), "no regex"
    assert "комплект 1" not in text, "the submitted value is not echoed"
    errors = {tuple(e["loc"]): e for e in body["detail"]}
    kit = errors[("body", "kit_id")]
    assert kit["type"] == "string_pattern_mismatch"
    assert kit["msg"] == catalogue("api").text(
        "validation.string_pattern_mismatch",
        lang,
        accepted=catalogue("api").text("pattern.kit_id", lang),
    )
    assert errors[("body", "color")]["type"] == "extra_forbidden"
    lesson = {"date": "2026-09-07", "start": "25:00", "duration_min": 45, "subject": "Алгебра",
              "server": "webinar.school.kz"}  # fmt: skip
    status, schedule = put(running, "/api/v1/pupils/p-001/schedule", {"extras": [lesson]}, lang)
    assert status == 422, schedule
    said = {e["msg"] for e in schedule["detail"]}
    own = ("value.clock_missing", "value.server_port_missing")
    assert said >= {catalogue("schedules").text(key, lang) for key in own}, "a validator's refusal"
    for error in body["detail"] + schedule["detail"]:
        assert latin_words(error["msg"], api_words | SENT) == set(), error
    terms = [
        {"start": "2026-09-01", "end": "2026-10-30"},
        {"start": "2026-10-01", "end": "2026-12-25"},
    ]
    status, contradiction = put(running, "/api/v1/pupils/p-001/schedule", {"terms": terms}, lang)
    assert status == 422, contradiction
    assert contradiction["detail"]["message"] == catalogue("schedules").text(
        "invalid.message", lang
    )
    for problem in contradiction["detail"]["problems"]:
        assert latin_words(problem["message"]) == set(), problem


@pytest.mark.processes
@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_a_contract_refusal_names_its_state_and_action_in_the_language(
    running: Controller, lang: Lang
) -> None:
    status, body = ask(running, f"/api/v1/contracts/{CONTRACT['number']}/actions/hand_over",
                       {}, lang=lang)  # fmt: skip
    assert status == 409, body
    assert (body["reason"], body["state"], body["action"]) == ("not_allowed", "draft", "hand_over")
    texts = catalogue("contracts")
    assert body["detail"] == body["messages"][lang]
    assert texts.text("state.draft", lang) in body["detail"]
    assert texts.text("action.hand_over", lang) in body["detail"]
    assert latin_words(body["detail"]) == set(), body


@pytest.mark.processes
@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_other_domains_refusals_read_in_the_language(running: Controller, lang: Lang) -> None:
    for path, sent in OTHERS:
        status, body = ask(running, path, sent, lang=lang)
        assert status >= 400, body
        assert body["detail"] == body["messages"][lang], body
        assert latin_words(body["detail"], SENT | {"kit-nowhere", "aliya"}) == set(), body
