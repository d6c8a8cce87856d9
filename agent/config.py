"""The agent's settings: command-line options over `KITKEEPER_*` environment variables."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.profiles import PROFILES_DIR
from agent.readiness import Thresholds
from protocol.topics import validate_kit_id


def default_kit_id() -> str:
    """A kit id derived from this machine's host name (used by the demo and a bare `run`)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()).strip("-._") or "kit"
    return name[:64]


class AgentSettings(BaseSettings):
    """Everything `kitkeeper-agent run` needs."""

    model_config = SettingsConfigDict(
        env_prefix="KITKEEPER_", extra="forbid", env_nested_delimiter="__"
    )

    kit_id: str | None = Field(
        default=None,
        description="This kit's id (the MQTT topic level). Once enrolled it is the certificate's "
        "CN and may be left out; without enrolment it defaults to the host name.",
    )
    mqtt_host: str | None = Field(
        default=None,
        description="Broker host; default: what enrolment recorded, else 127.0.0.1.",
    )
    mqtt_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Broker port; default: what enrolment recorded, else 8883 (1883 if plain).",
    )
    plain_mqtt: bool = Field(
        default=False,
        description="Development only: connect without TLS or a kit certificate.",
    )
    interval: float = Field(
        default=30.0, gt=0, le=86400, description="Seconds between telemetry snapshots."
    )
    state_dir: Path = Field(
        default=Path("var/agent"),
        description="Directory for the agent's durable state (sequence numbers, later outbox).",
    )
    keepalive: int = Field(default=30, ge=5, le=3600, description="MQTT keep-alive in seconds.")
    reconnect_min_delay: float = Field(
        default=1.0, gt=0, description="First wait before reconnecting to the broker, seconds."
    )
    reconnect_max_delay: float = Field(
        default=30.0, gt=0, description="Longest wait between reconnection attempts, seconds."
    )
    ack_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds without the controller's acknowledgement before unacknowledged "
        "messages are sent again.",
    )
    send_window: int = Field(
        default=200, ge=1, le=10_000, description="Most messages sent and not yet acknowledged."
    )
    outbox_max_messages: int = Field(
        default=25_000,
        ge=10,
        description="Most messages kept while the controller is unreachable (7 days at 30 s).",
    )
    outbox_max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=64 * 1024, description="Most payload bytes kept in the outbox."
    )
    outbox_max_age: float = Field(
        default=7 * 24 * 3600.0, gt=0, description="Oldest message kept in the outbox, seconds."
    )
    renew_before_days: float = Field(
        default=30.0, gt=0, description="Renew the kit certificate this many days before expiry."
    )
    expired_probe_interval: float = Field(
        default=900.0,
        ge=1,
        le=86400,
        description="While the kit's clock calls its certificate expired, try the broker this "
        "often anyway (seconds): the clock may be what is wrong.",
    )
    profile: str = Field(
        default="base",
        pattern=r"^[a-z0-9][a-z0-9-]{0,63}$",
        description="The kit's profile (images/profiles/<name>.yaml): what it must have.",
    )
    profiles_dir: Path = Field(
        default=PROFILES_DIR, description="Where the kit profiles are (YAML files)."
    )
    webinar: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$",
        description="host:port of the webinar server of the pupil's lessons, probed for readiness.",
    )
    connectivity_interval: float = Field(
        default=300.0,
        ge=0,
        description="Seconds between connectivity probe series (0: never, except in doctor).",
    )
    throughput_probe: bool = Field(
        default=False,
        description="Also measure download throughput from the controller with each probe series.",
    )
    thresholds: Thresholds = Field(
        default_factory=Thresholds,
        description="Webinar readiness thresholds (KITKEEPER_THRESHOLDS__RTT_DEGRADED_MS=...).",
    )

    # --- remediation (agent/bundles.py, agent/playbooks.py) ------------------------------------
    bundle_key: Path | None = Field(
        default=None,
        description="The Ed25519 public key (PEM) that playbook bundles must be signed with; "
        "default: bundle-signing.pub in the state directory, saved at enrolment.",
    )
    playbook_vars: dict[str, str | int | bool] = Field(
        default_factory=dict,
        description="Variables given to every remediation playbook (JSON object, e.g. "
        '{"kk_root": "/", "kk_live": true}); they win over a command\'s extra_vars, and only '
        "they set what no playbook lets a command set (kk_agent_venv, kk_pip_index_url).",
    )

    web_port: int = Field(
        default=8765,
        ge=0,
        le=65534,
        description="Port of the pupil's page on 127.0.0.1 (its materials on the next port); "
        "0: no page (the web stack is then not even loaded).",
    )

    disk_paths: list[Path] = Field(
        default_factory=list,
        description="Extra paths whose file systems are reported as disks (JSON list), e.g. a "
        "data partition the mount list hides; the rules watch them like the others.",
    )

    # --- offline content (agent/content/) -------------------------------------------------------
    content_rate: float = Field(
        default=4 * 1024 * 1024,
        ge=0,
        description="Bandwidth cap of content downloads, bytes/s (0: none); none during lessons.",
    )
    content_reserve_bytes: int = Field(
        default=1024**3,
        ge=0,
        description="Free space content sync leaves on its disk: this many bytes or "
        "content_reserve_ratio of the disk, whichever is smaller.",
    )
    content_reserve_ratio: float = Field(
        default=0.10, ge=0, le=1, description="The reserve as a share of the disk's size."
    )
    content_timeout: float = Field(
        default=30.0, gt=0, le=600, description="Seconds without a byte before a download retries."
    )
    content_retry: float = Field(
        default=60.0, gt=0, le=86400, description="Seconds between sync attempts after a failure."
    )

    @field_validator("kit_id")
    @classmethod
    def _kit_id(cls, value: str | None) -> str | None:
        return None if value is None else validate_kit_id(value)
