"""The controller's settings: command-line options over `KITKEEPER_*` environment variables."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB_URL = "sqlite:///var/kitkeeper.db"


def _iana_zone(name: str) -> str:
    """The name of an IANA time zone (e.g. Asia/Almaty), else ValueError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"not an IANA time zone: {name!r} (e.g. Asia/Almaty)") from None
    return name


SchoolZone = Annotated[str, AfterValidator(_iana_zone)]


class ControllerSettings(BaseSettings):
    """Everything `kitkeeper-controller serve` needs."""

    model_config = SettingsConfigDict(env_prefix="KITKEEPER_", extra="forbid")

    db: str = Field(
        default=DEFAULT_DB_URL,
        description="SQLAlchemy database URL: sqlite:///path (default) or postgresql+psycopg://...",
    )
    mqtt_host: str = Field(default="127.0.0.1", description="Broker host name or address.")
    mqtt_port: int = Field(default=1883, ge=1, le=65535, description="Broker port.")
    mqtt_client_id: str = Field(
        default_factory=lambda: f"kitkeeper-controller-{socket.gethostname()}"[:64],
        description="MQTT client id; stable, so that the broker keeps the session across restarts.",
    )
    http_host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on.")
    http_port: int = Field(default=8000, ge=1, le=65535, description="Port of the HTTP API.")
    # --- HTTP hardening (controller/api/origin.py, controller/api/routes/health.py)
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port], JSON list) whose pages may send writes with "
        "the session cookie, besides the controller's own (scheme and Host of the request).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token a Prometheus scraper sends to GET /metrics; without it only "
        "signed-in admins and technicians read the metrics.",
    )
    batch_size: int = Field(
        default=2000, ge=1, le=100_000, description="Most messages written in one transaction."
    )
    batch_wait: float = Field(
        default=0.1,
        gt=0,
        le=5,
        description="Longest wait in seconds for a batch to fill before it is written anyway.",
    )
    history_limit: int = Field(
        default=60, ge=1, le=1000, description="Snapshots shown as recent history of one kit."
    )
    pki_dir: Path = Field(
        default=Path("var/pki"),
        description="The device CA and the controller's and broker's certificates "
        "(`kitkeeper-controller pki init`). When present, MQTT and HTTP use TLS.",
    )
    broker_dir: Path = Field(
        default=Path("var/broker"),
        description="Where `broker-config` wrote the broker's configuration, ACL and pid file; "
        "revocation rewrites the ACL there and makes the broker reload.",
    )
    content_dir: Path = Field(
        default=Path("var/content"),
        description="The content catalogue's files, each stored once by its sha256 "
        "(`blobs/ab/abcdef...`); uploads are staged beside them.",
    )
    content_max_upload_bytes: int = Field(
        default=2 * 1024**3,
        ge=1024,
        le=4 * 1024**3,
        description="Largest file a content upload or import may bring (each kind has its own "
        "cap below this too: see controller/content/README.md); larger ones are refused (413).",
    )
    plain: bool = Field(
        default=False,
        description="Development only: plain MQTT and HTTP even when a PKI exists.",
    )
    public_mqtt_host: str | None = Field(
        default=None,
        description="Broker host told to kits at enrolment (default: --mqtt-host).",
    )
    public_mqtt_port: int | None = Field(
        default=None, ge=1, le=65535, description="Broker port told to kits at enrolment."
    )
    cert_days: int = Field(default=365, ge=1, le=3650, description="Kit certificate lifetime.")
    token_hours: float = Field(
        default=24.0, gt=0, le=24 * 30, description="Lifetime of a one-time enrolment token."
    )
    offline_factor: float = Field(
        default=3.0,
        ge=1.5,
        description="A kit is offline when its last message is older than this many intervals.",
    )
    pii_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Keys that encrypt personal data (JSON list, newest first; older keys still "
        "decrypt until `kitkeeper-controller keys rotate`). `keys generate` makes one.",
    )
    pii_index_key: SecretStr | None = Field(
        default=None,
        description="Key of the searchable hashes of IINs (kept when the other keys rotate).",
    )
    ack_delay: float = Field(
        default=2.0,
        ge=0,
        le=10,
        description="Acks to one kit are coalesced for at most this many seconds.",
    )
    # --- per-kit quotas (controller/fleet/quotas.py) and retention (controller/fleet/retention.py)
    kit_telemetry_rate: float = Field(
        default=5.0,
        gt=0,
        description="Telemetry messages per second one kit may send (a token bucket; one token "
        "per 8 KiB). Above it messages are dropped and counted; the kit's outbox resends them.",
    )
    kit_telemetry_burst: int = Field(
        default=600, ge=1, description="Telemetry messages one kit may send at once (a replay)."
    )
    kit_events_rate: float = Field(
        default=2.0, gt=0, description="Event messages per second one kit may send."
    )
    kit_events_burst: int = Field(
        default=300, ge=1, description="Event messages one kit may send at once."
    )
    kit_status_rate: float = Field(
        default=1.0, gt=0, description="Status messages per second one kit may send."
    )
    kit_status_burst: int = Field(
        default=30, ge=1, description="Status messages one kit may send at once."
    )
    telemetry_retention_days: int = Field(
        default=30,
        ge=1,
        description="Raw telemetry older than this is folded into hourly rows, then deleted.",
    )
    events_retention_days: int = Field(
        default=180, ge=1, description="Events older than this are deleted."
    )
    hourly_retention_days: int = Field(
        default=730, ge=1, description="Hourly telemetry history older than this is deleted."
    )
    retention_interval: float = Field(
        default=3600.0,
        ge=1,
        description="Seconds between retention passes (each deletes in bounded batches).",
    )
    # --- playbook bundles (controller/remediation/bundles.py)
    playbooks_dir: Path | None = Field(
        default=None,
        description="The remediation playbooks (*.yml, each with `vars: kitkeeper:` metadata) "
        "and their rules.yaml, packed into signed bundles; default: the repository's playbooks/.",
    )
    bundle_dir: Path | None = Field(
        default=None,
        description="Where every signed playbook bundle built is kept (<version>.tar.gz and "
        ".sig); default: bundles/ beside the PKI directory (var/bundles for var/pki).",
    )
    # --- the escalation ladder (controller/remediation/remediator.py)
    rules_path: Path | None = Field(
        default=None,
        description="The fault rules (YAML, policy/rules.py); default: rules.yaml in the "
        "playbooks directory. The same file goes into the signed bundle for the kits.",
    )
    remediation: bool = Field(
        default=True,
        description="Run the escalation ladder (rules, incidents, playbook commands, tickets).",
    )
    remediation_interval: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Seconds between passes over new events, new telemetry and due deadlines.",
    )
    content_publish_interval: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Seconds between the content publisher's passes (kits' manifests rebuilt "
        "where their inputs changed; an assignment or a schedule change runs one at once).",
    )
    guard_minutes: int = Field(
        default=15,
        ge=0,
        le=240,
        description="Nothing disruptive starts this many minutes before a lesson.",
    )
    prelesson_minutes: int = Field(
        default=30,
        ge=1,
        le=240,
        description="How long before each online lesson the kit checks its readiness.",
    )
    schedule_horizon_days: int = Field(
        default=14, ge=1, le=60, description="How many days of lessons each kit is given."
    )
    school_timezone: SchoolZone = Field(
        default="Asia/Almaty",
        description="The school's IANA time zone: times people read (tickets' due, incidents, "
        "refusals, the ladder's notes) are also given in it; the API keeps UTC beside them.",
    )
    # --- staff sign-in (controller/trust/throttle.py, controller/trust/passwords.py)
    signin_window: float = Field(
        default=900,
        gt=0,
        le=86_400,
        description="Seconds over which failed sign-ins are counted; a lock ends at most this "
        "long after the last failure.",
    )
    signin_account_failures: int = Field(
        default=5, ge=1, description="Failed sign-ins per user name within the window."
    )
    signin_address_failures: int = Field(
        default=20, ge=1, description="Failed sign-ins per client address within the window."
    )
    hash_workers: int = Field(
        default=2, ge=1, le=16, description="Password checks (argon2, 64 MiB each) run at once."
    )
    hash_queue: int = Field(
        default=8,
        ge=0,
        le=1000,
        description="Sign-ins that may wait for a password check; more get 503 with Retry-After.",
    )

    @property
    def school_zone(self) -> ZoneInfo:
        """The school's time zone (`school_timezone`)."""
        return ZoneInfo(self.school_timezone)
