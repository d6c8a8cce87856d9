"""The composition root: everything one controller process runs, built in one place.

`build` makes the database engine (migrated), its sessions, the metrics, the CRL keeper, the MQTT
adapter (`Ingest`), the remediator and its schedule publisher, and hands each what it needs: the
MQTT adapter owns none of the others, the remediator publishes through the adapter's methods.
`Runtime` is the typed container of these parts (Home Assistant's `MqttData` is the model); the
API's lifespan builds it, starts it and keeps it as the app's state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from controller.config import ControllerSettings
from controller.content.publisher import ContentPublisher, ScheduleRequests
from controller.fleet.ingest import Ingest
from controller.platform.db.engine import make_engine, make_sessionmaker
from controller.platform.db.migrate import upgrade
from controller.platform.metrics import Metrics
from controller.remediation.playbooks import load_bundle
from controller.remediation.quotas import Refusals
from controller.remediation.remediator import Remediator
from controller.remediation.schedule_publisher import SchedulePublisher
from controller.trust import pki
from controller.trust.crl import CrlKeeper
from controller.trust.signin import SignIn

_LOGGER = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What one controller process runs; the parts it lacks are None (see `build`)."""

    settings: ControllerSettings
    engine: Engine
    sessions: sessionmaker[Session]
    metrics: Metrics
    crl: CrlKeeper
    ingest: Ingest | None
    """The MQTT adapter: None when the process runs without MQTT."""
    remediator: Remediator | None
    """The escalation ladder: None without MQTT or with remediation turned off."""
    publisher: SchedulePublisher | ScheduleRequests | None
    """Publishes kits' schedules after a change: the remediator's, when it runs."""
    content: ContentPublisher | None = None
    """Keeps kits' content manifests current and announced (runs only with MQTT)."""
    signin: SignIn = field(init=False)
    """Staff sign-in: throttled, its password hashing bounded and off the event loop."""

    def __post_init__(self) -> None:
        self.signin = SignIn.from_settings(self.settings, self.sessions)

    def start(self) -> None:
        """Start ingesting, then the ladder's passes."""
        if self.ingest is not None:
            self.ingest.start()
        if self.remediator is not None:
            self.remediator.start()
        if self.content is not None and self.ingest is not None:
            self.content.start()

    def stop(self) -> None:
        """Stop the ladder, then ingest (the last acks go out), then close the database."""
        try:
            if self.content is not None:
                self.content.stop()
            if self.remediator is not None:
                self.remediator.stop()
            if self.ingest is not None:
                self.ingest.stop()
        finally:
            self.signin.close()
            self.engine.dispose()


def build(settings: ControllerSettings, *, with_mqtt: bool = True) -> Runtime:
    """Build a controller's parts (the database migrated first); nothing runs until `start`."""
    engine = make_engine(settings.db)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    metrics = Metrics()
    crl = CrlKeeper(
        paths=pki.PkiPaths(settings.pki_dir),
        sessions=sessions,
        broker_dir=settings.broker_dir,
        metrics=metrics,
    )
    if not with_mqtt:
        content = ContentPublisher(
            settings=settings, sessions=sessions, metrics=metrics, publish=None
        )
        return Runtime(settings, engine, sessions, metrics, crl, None, None, None, content)
    ingest = Ingest(settings=settings, sessions=sessions, metrics=metrics, crl=crl)
    remediator = None
    if settings.remediation:
        remediator = Remediator(
            settings=settings,
            sessions=sessions,
            send=ingest.send_command,
            publish_schedule=ingest.publish_schedule,
            bundle=load_bundle(settings, datetime.now(UTC), sessions),
            flooded=ingest.flooded,
            refusals=Refusals(metrics.registry),
        )
    content = ContentPublisher(
        settings=settings, sessions=sessions, metrics=metrics, publish=ingest.publish_manifest
    )
    publisher = ScheduleRequests(remediator.schedules, content) if remediator is not None else None
    return Runtime(settings, engine, sessions, metrics, crl, ingest, remediator, publisher, content)
