"""How a kit's latest content status follows its events (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.content.sync_status import merged
from protocol.content import ContentEventKind, ContentStatus, LessonContent, SyncState

AT = datetime(2027, 5, 4, 8, 0, tzinfo=UTC)
LESSON = LessonContent(start=AT + timedelta(hours=2), subject="Math", ready=False, missing=["r1"])


def _status(state: SyncState, **fields: object) -> ContentStatus:
    return ContentStatus.model_validate({"manifest_version": 3, "state": state, **fields})


def test_a_failure_is_kept_as_the_last_error_after_later_progress() -> None:
    """disk_full with the bytes missing is the last error until another error replaces it."""
    failed = merged(
        None,
        ContentEventKind.CONTENT_FAILED,
        _status(SyncState.FAILED, reason="disk_full", detail="no space", bytes_missing=42),
        AT,
    )
    assert (failed["error_reason"], failed["error_at"]) == ("disk_full", AT)
    assert failed["error_detail"] == "no space (bytes missing: 42)"
    later = merged(failed, ContentEventKind.CONTENT_SYNCED, _status(SyncState.SYNCED), AT)
    assert later["state"] == "synced"
    assert (later["error_reason"], later["error_at"]) == ("disk_full", AT)
    refused = merged(
        later, ContentEventKind.CONTENT_REFUSED, _status(SyncState.REFUSED), AT + timedelta(1)
    )
    assert refused["error_reason"] == "content_refused"  # no reason given: the event's kind
    assert refused["error_detail"] is None


def test_lessons_kept_until_a_readiness_report_says_otherwise() -> None:
    """Progress without lessons keeps the last per-lesson report; a readiness report replaces
    it, even with none."""
    ready = merged(
        None, ContentEventKind.CONTENT_READINESS, _status(SyncState.SYNCING, lessons=[LESSON]), AT
    )
    assert ready["lessons"][0]["missing"] == ["r1"]
    progress = merged(
        ready,
        ContentEventKind.CONTENT_PROGRESS,
        _status(SyncState.SYNCING, bytes_total=10, bytes_have=4, bytes_to_go=6),
        AT,
    )
    assert progress["lessons"] == ready["lessons"]
    assert (progress["bytes_have"], progress["bytes_to_go"]) == (4, 6)
    cleared = merged(progress, ContentEventKind.CONTENT_READINESS, _status(SyncState.SYNCED), AT)
    assert cleared["lessons"] == []
