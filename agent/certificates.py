"""The kit's certificate over time: renewed before it expires, taken up after a re-enrolment.

A certificate in its renewal window is renewed over the kit's own MQTT connection (a CSR in a
`cert_renew_request` event, the certificate back in an `install_certificate` command). Past its
expiry, by this kit's clock, and offline, the agent stops knocking at the broker, says what to do
(once an hour) and keeps working offline; `kitkeeper-agent enroll` with a technician's token
writes a new identity, which the agent takes up by itself, whether it was waiting or running. It
still tries the broker every `expired_probe_interval`: "expired" is this kit's clock's word, and
the clock may be what is wrong. What it tells the technician in its log comes from the `agent`
catalogue, in the language of the kit's locale.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.config import AgentSettings
from agent.errors import IdentityError
from agent.i18n import default_lang, t
from agent.identity import (
    CA_FILE,
    CERT_FILE,
    KEY_FILE,
    Identity,
    expired,
    generate_key,
    load_identity,
    load_key,
    make_csr,
    matches,
    save_identity,
    verify_issued,
)
from agent.transport import MqttTransport
from common.files import PUBLIC_MODE, write_atomic
from protocol.models import CommandMessage, Event

_LOGGER = logging.getLogger(__name__)
RENEWAL_RETRY = timedelta(hours=1)
PROBE_FOR_S = 60.0
"""While its certificate looks expired, each try at the broker lasts this long (how often:
`expired_probe_interval`)."""


def _now() -> datetime:
    return datetime.now(UTC)


class CertificateKeeper:
    """Keeps one kit's TLS identity valid; `keep` runs once per agent interval."""

    def __init__(
        self,
        *,
        settings: AgentSettings,
        identity: Identity,
        tls: ssl.SSLContext,
        transport: MqttTransport,
        publish_event: Callable[[Event], None],
        report: Callable[[CommandMessage, bool, str], None],
        controller_url: str | None,
    ) -> None:
        self.identity = identity
        self._settings = settings
        self._kit_id = identity.kit_id
        self._tls = tls
        self._transport = transport
        self._publish_event = publish_event
        self._report = report
        self._controller_url = controller_url
        self._renewal_key_path = settings.state_dir / (KEY_FILE + ".new")
        self._renewal_requested_at: datetime | None = None
        self._lock = threading.Lock()
        self._awaiting_enrolment_at: float | None = None  # monotonic; set while expired
        self._probe_started_at: float | None = None  # monotonic; a try at the broker meanwhile
        self._probe_ended_at = 0.0
        self._said_at = 0.0
        self._cert_seen: tuple[int, int, int] | None = None

    def expired(self, now: datetime) -> bool:
        """Whether the certificate is past its notAfter by this kit's clock."""
        return expired(self.identity.not_after, now)

    def keep(self) -> None:
        """Renew in time; past expiry and offline, wait for a re-enrolment and resume after it."""
        now = _now()
        if self._awaiting_enrolment_at is not None:
            if not self._take_up_enrolment(now, waiting=True):
                self._probe_broker()
        elif self._take_up_enrolment(now, waiting=False):
            return
        elif self.expired(now) and not self._transport.connected.is_set():
            self._transport.stop()
            self.await_enrolment()
        else:  # connected with an expired certificate, the renewal request still gets through
            self._maybe_request_renewal()

    def await_enrolment(self) -> None:
        """Stop knocking at the broker; say what to do."""
        self._awaiting_enrolment_at = time.monotonic()
        self._probe_started_at = None
        self._say_enrolment_needed()

    # --- renewal -----------------------------------------------------------------------------

    def _maybe_request_renewal(self) -> None:
        with self._lock:
            self._request_renewal()

    def _request_renewal(self) -> None:
        identity = self.identity
        now = _now()
        if identity.not_after - now > timedelta(days=self._settings.renew_before_days):
            return
        if self._renewal_requested_at and now - self._renewal_requested_at < RENEWAL_RETRY:
            return
        # Asking again reuses the pending key, so that any answer still on its way fits it.
        key = (
            load_key(self._renewal_key_path)
            if self._renewal_key_path.exists()
            else generate_key(self._renewal_key_path)
        )
        csr = make_csr(key, self._kit_id).decode()
        self._renewal_requested_at = now
        _LOGGER.info(
            "certificate expires %s: asking the controller for a new one", identity.not_after
        )
        self._publish_event(
            Event(
                kind="cert_renew_request",
                message=f"certificate expires {identity.not_after:%Y-%m-%d}",
                data={"csr_pem": csr, "serial": format(identity.serial, "x")},
            )
        )

    def install_certificate(self, command: CommandMessage) -> None:
        """Install the certificate the controller sent for the pending renewal key."""
        with self._lock:
            self._install(command)

    def _install(self, command: CommandMessage) -> None:
        if not self._renewal_key_path.exists():
            raise IdentityError("no renewal is pending")
        cert_pem = str(command.body.args.get("certificate_pem", "")).encode()
        ca_pem = self.identity.ca_path.read_bytes()
        key = load_key(self._renewal_key_path)
        verify_issued(cert_pem, ca_pem, key=key, kit_id=self._kit_id, now=_now())
        # Certificate beside the new key first; then key, then certificate: a crash in between
        # is finished by `finish_renewal` at the next start.
        write_atomic(self._settings.state_dir / (CERT_FILE + ".new"), cert_pem, PUBLIC_MODE)
        finish_renewal(self._settings.state_dir)
        identity = load_identity(self._settings.state_dir)
        assert identity is not None
        self._use(identity)
        self._report(command, True, f"new certificate valid until {identity.not_after:%Y-%m-%d}")
        self._restart_transport()

    # --- past expiry, and re-enrolment --------------------------------------------------------

    def _probe_broker(self) -> None:
        """Try the broker now and then: "expired" is this kit's clock's word, not the broker's."""
        at = time.monotonic()
        if self._probe_started_at is None:
            assert self._awaiting_enrolment_at is not None
            since = at - max(self._awaiting_enrolment_at, self._probe_ended_at)
            if since >= self._settings.expired_probe_interval:
                self._probe_started_at = at
                self._transport.start()
        elif self._transport.connected.is_set():
            _LOGGER.warning("%s", t("certificate.clock_suspect", default_lang()))
            self._awaiting_enrolment_at = self._probe_started_at = None
            self._maybe_request_renewal()
        elif at - self._probe_started_at >= PROBE_FOR_S:
            self._transport.stop()
            self._probe_started_at, self._probe_ended_at = None, at

    def _take_up_enrolment(self, now: datetime, *, waiting: bool) -> bool:
        """Take up a valid identity for this kit that `kitkeeper-agent enroll` wrote meanwhile."""
        with self._lock:
            identity = self._identity_on_disk()
            fresh = (
                identity is not None
                and identity.serial != self.identity.serial
                and identity.kit_id == self._kit_id
                and not expired(identity.not_after, now)
            )
            if not fresh:
                if waiting and time.monotonic() - self._said_at > RENEWAL_RETRY.total_seconds():
                    self._say_enrolment_needed()
                return False
            assert identity is not None
            if waiting and self._probe_started_at is not None:
                self._transport.stop()
            self._use(identity)
            self._awaiting_enrolment_at = self._probe_started_at = None
        said = "certificate.taken_up" if waiting else "certificate.taken_up_running"
        _LOGGER.info("%s", t(said, default_lang(), date=f"{identity.not_after:%Y-%m-%d}"))
        if waiting:
            self._transport.start()
        else:
            self._restart_transport()
        return True

    def _identity_on_disk(self) -> Identity | None:
        """The identity in the state dir if its certificate file changed since last read."""
        try:
            stat = (self._settings.state_dir / CERT_FILE).stat()
            seen = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except OSError:
            return None
        if seen == self._cert_seen:
            return None  # read every interval: parse it only when `enroll` wrote a new one
        try:
            identity = load_identity(self._settings.state_dir)
        except IdentityError:
            return None  # enrolment may be writing the files right now: look again next time
        self._cert_seen = seen
        return identity

    def _use(self, identity: Identity) -> None:
        self._tls.load_cert_chain(str(identity.cert_path), str(identity.key_path))
        self.identity = identity
        self._renewal_requested_at = None

    def _restart_transport(self) -> None:
        """Reconnect with the new certificate, off the calling thread (paho's, maybe)."""
        threading.Thread(target=self._transport.restart, name="tls-restart", daemon=True).start()

    def _say_enrolment_needed(self) -> None:
        self._said_at = time.monotonic()
        text = t(
            "certificate.enrolment_needed",
            default_lang(),
            kit_id=self._kit_id,
            date=f"{self.identity.not_after:%Y-%m-%d %H:%M}",
            controller=self._controller_url or "https://CONTROLLER:PORT",
            state_dir=self._settings.state_dir,
        )
        _LOGGER.error("%s", text)


def finish_renewal(state_dir: Path) -> None:
    """Complete (or forget) a certificate renewal that a crash interrupted.

    A renewal writes `kit.crt.new` next to `kit.key.new`, then moves the key, then the
    certificate. With both `.new` files present the new pair is complete: install it. With only
    the certificate left, the key already moved: install the certificate. A lone `kit.key.new`
    is a request still waiting for its answer and is left alone.
    """
    new_key, new_cert = state_dir / (KEY_FILE + ".new"), state_dir / (CERT_FILE + ".new")
    if not new_cert.exists():
        return
    cert = new_cert.read_bytes()
    key_path = new_key if new_key.exists() else state_dir / KEY_FILE
    try:
        fits = matches(cert, load_key(key_path))
    except IdentityError:
        fits = False
    if not fits:  # an answer to another request: forget it, the next request starts again
        _LOGGER.warning("discarding a renewed certificate that does not fit the pending key")
        new_cert.unlink()
        return
    if key_path == new_key:
        new_key.replace(state_dir / KEY_FILE)
    save_identity(state_dir, cert_pem=cert, ca_pem=(state_dir / CA_FILE).read_bytes())
    new_cert.unlink()
