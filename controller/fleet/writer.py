"""The ingest writer process: decodes received messages in batches and commits them.

It runs beside the controller's main process (which owns the MQTT connection, the API and the
acks) so that the two share the machine's cores instead of one interpreter lock. Batches of raw
messages arrive over a pipe; after each commit a summary goes back: the kits' new watermarks (to
acknowledge), what was stored, and the new events the controller acts on. If this process dies,
what it held was never acknowledged, so the kits send it again: nothing is lost.
"""

from __future__ import annotations

import logging
import pickle
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from controller.config import ControllerSettings
from controller.fleet import clock
from controller.fleet.store import Received, StoreResult, store_batch
from controller.platform.db.engine import make_engine, make_sessionmaker
from protocol.codec import TsRefusedError, decode
from protocol.errors import ProtocolError
from protocol.models import EventMessage
from protocol.topics import Channel, parse_topic

_LOGGER = logging.getLogger(__name__)

RawMessage = tuple[str, bytes, float]
"""(topic, payload, received at as a UTC timestamp): what crosses the pipe."""

ACTED_ON = frozenset({"cert_renew_request"})
"""Event kinds the main process acts on once they are stored."""


@dataclass
class Summary:
    """What one committed batch changed, sent back to the main process."""

    watermarks: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    quarantined: int = 0
    splits: int = 0
    scanned: int = 0
    status_changed: bool = False
    seconds: float = 0.0
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    """(kit_id, kind, data) of new events the controller acts on."""


def _decode(raw: list[RawMessage]) -> list[Received]:
    items = []
    for topic, payload, at in raw:
        received_at = datetime.fromtimestamp(at, UTC)
        try:
            # The same check, `ts` bounds included, against the same clock reading as on
            # arrival: nothing the database cannot hold gets this far.
            kit_topic, message = decode(topic, payload, now=received_at)
        except TsRefusedError as exc:  # counted on arrival; settled here, not stored
            settled = clock.settle(exc, received_at)
            if settled is not None:
                kind = parse_topic(topic).channel  # a settled telemetry becomes an event
                channel = Channel.EVENTS if isinstance(settled, EventMessage) else kind
                items.append(Received(channel, settled, received_at))
            continue
        except ProtocolError:  # checked before it was sent here; cannot happen, never fatal
            _LOGGER.exception("a message failed to decode in the writer")
            continue
        items.append(Received(kit_topic.channel, message, received_at))
    return items


def _commit(sessions: Any, items: list[Received]) -> StoreResult:
    """Commit items; a database that is away is waited for, a message it refuses is set aside.

    A refusal that is not about the connection (a value the schema cannot hold) would fail the
    same way for ever: the batch is split until the message at fault is alone, and that one is
    logged and skipped. Its kit is never acknowledged for it and the watermark stops there.
    """
    delay = 0.5
    while True:
        try:
            with sessions.begin() as session:
                return store_batch(session, items)
        except OperationalError:  # the database is locked, away or full: wait for it
            _LOGGER.exception("writing %d messages failed; retrying in %.1fs", len(items), delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
        except (SQLAlchemyError, ValueError, TypeError, OverflowError) as exc:
            if len(items) == 1:
                msg = items[0].message
                _LOGGER.error(  # noqa: TRY400 - one line per quarantined message is enough
                    "set aside message %s (seq %d) of kit %s: %s",
                    msg.msg_id,
                    msg.seq,
                    msg.kit_id,
                    exc,
                )
                return StoreResult(quarantined=1)
            half = len(items) // 2
            first, second = _commit(sessions, items[:half]), _commit(sessions, items[half:])
            first.splits += 1
            return first.merge(second)


def write(sessions: Any, raw: list[RawMessage]) -> Summary:
    """Commit one batch and summarise it for the main process."""
    items = _decode(raw)
    started = time.perf_counter()
    result = _commit(sessions, items)
    return Summary(
        watermarks=result.watermarks,
        stored={channel.value: n for channel, n in result.stored.items()},
        duplicates=result.duplicates,
        quarantined=result.quarantined,
        splits=result.splits,
        scanned=result.scanned,
        status_changed=result.status_changed,
        seconds=time.perf_counter() - started,
        events=[
            (m.kit_id, m.body.kind, m.body.data)
            for m in (i.message for i in items)
            if isinstance(m, EventMessage)
            and m.body.kind in ACTED_ON
            and (m.kit_id, m.msg_id) in result.inserted
        ],
    )


def run(settings_json: str, inbox: Connection, outbox: Connection, log_level: int) -> None:
    """The process's entry point: read batches until the pipe closes or an empty one arrives."""
    logging.basicConfig(
        level=log_level, format="%(asctime)s %(levelname)s %(name)s[writer]: %(message)s"
    )
    settings = ControllerSettings.model_validate_json(settings_json)
    engine = make_engine(settings.db)
    sessions = make_sessionmaker(engine)
    buffer: list[RawMessage] = []
    oldest = 0.0
    try:
        while True:
            wait = settings.batch_wait - (time.monotonic() - oldest) if buffer else 1.0
            if inbox.poll(max(wait, 0.0)):
                data = inbox.recv_bytes()
                if not data:
                    break
                if not buffer:
                    oldest = time.monotonic()
                buffer.extend(pickle.loads(data))  # noqa: S301 - our own parent process
                if (
                    len(buffer) < settings.batch_size
                    and time.monotonic() - oldest < settings.batch_wait
                ):
                    continue
            if buffer:
                chunk, buffer = buffer[: settings.batch_size], buffer[settings.batch_size :]
                oldest = time.monotonic()
                outbox.send_bytes(pickle.dumps(write(sessions, chunk)))
        while buffer:  # the parent is stopping: write out what it sent
            chunk, buffer = buffer[: settings.batch_size], buffer[settings.batch_size :]
            outbox.send_bytes(pickle.dumps(write(sessions, chunk)))
        outbox.send_bytes(b"")
    except (EOFError, BrokenPipeError, ConnectionResetError):
        _LOGGER.info("the controller went away; writer stopping")
    finally:
        engine.dispose()
