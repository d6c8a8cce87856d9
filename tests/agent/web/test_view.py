"""What the pupil's page shows: pure functions of the manifest, now, the language and the disk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent.doctor import Check
from agent.web import view
from agent.web.status import status_lines
from common.i18n import LANGS
from tests.agent.web.content import manifest

NOW = datetime.now(UTC)
MADE, BLOBS = manifest(NOW, 8765)


def everything(sha: str) -> bool:
    return True


@pytest.mark.parametrize("lang", LANGS)
def test_today_the_week_and_the_tasks_in_the_pupils_time_zone(lang: str) -> None:
    words = view.Words(lang)  # type: ignore[arg-type]
    page = view.home(MADE, None, NOW, everything, words)
    tz = view.zone(MADE)
    first = MADE.lessons[0].start.astimezone(tz)
    assert [r.subject for r in page.today_lessons] == ["Mathematics"]
    assert f"{first:%H:%M}" in page.today_lessons[0].time
    assert page.today == words.day(NOW.astimezone(tz).date())
    assert [r.subject for r in page.week_lessons] == ["Reading", "Music"]
    assert [t.id for t in page.tasks] == ["t-fractions", "t-song", "t-book"]  # by due, none last
    assert page.content_notes == ()
    assert page.has_content


def test_only_an_online_lesson_with_an_http_link_gets_a_webinar_link() -> None:
    page = view.home(MADE, None, NOW, everything, view.Words("en"))
    links = [r.webinar_url for r in (*page.today_lessons, *page.week_lessons)]
    assert links == ["https://webinar.example.kz/room/1", None, None]  # home visit, javascript:


def test_a_lesson_whose_materials_are_not_here_is_named_with_them() -> None:
    pdf = next(r for r in MADE.resources if r.id == "r-pdf")
    page = view.home(MADE, None, NOW, lambda sha: sha != pdf.sha256, view.Words("ru"))
    assert len(page.content_notes) == 1
    assert "«Mathematics»" in page.content_notes[0]
    assert pdf.title in page.content_notes[0]
    assert "Material html5" not in page.content_notes[0]


def test_a_missing_caption_counts_as_missing_material() -> None:
    video = next(r for r in MADE.resources if r.id == "r-video")
    assert view.missing_materials(video, lambda sha: sha != video.captions[1].sha256)
    assert not view.missing_materials(video, everything)


def test_no_content_yet_says_so_and_a_pending_manifest_names_what_is_coming() -> None:
    page = view.home(None, MADE, NOW, lambda sha: False, view.Words("kk"))
    assert not page.has_content
    assert page.today_lessons == ()
    assert page.tasks == ()
    assert len(page.content_notes) == 3  # each coming lesson, with its materials


def test_past_lessons_need_no_content() -> None:
    later = NOW + timedelta(days=5)
    page = view.home(MADE, None, later, lambda sha: False, view.Words("en"))
    assert page.content_notes == ()


def test_an_unknown_time_zone_falls_back_to_utc() -> None:
    odd = MADE.model_copy(update={"timezone": "Mars/Olympus"})
    assert view.zone(odd).utcoffset(NOW) == timedelta(0)


@pytest.mark.parametrize("lang", LANGS)
def test_the_status_says_what_stands_in_the_way_in_the_language(lang: str) -> None:
    assert status_lines(None, lang).ready is None  # type: ignore[arg-type]
    ok = [Check("camera", "ok", "camera.ok", {"name": "C270"})]
    assert status_lines(ok, lang).ready  # type: ignore[arg-type]
    failing = [*ok, Check("microphone", "fail", "microphone.missing")]
    said = status_lines(failing, lang)  # type: ignore[arg-type]
    assert said.ready is False
    assert len(said.problems) == 1
    assert said.problems[0] != "microphone.missing"
