"""The agent's settings: command-line options over `KITKEEPER_*` environment variables."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from protocol.topics import validate_kit_id


def default_kit_id() -> str:
    """A kit id derived from this machine's host name (used by the demo and a bare `run`)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()).strip("-._") or "kit"
    return name[:64]


class AgentSettings(BaseSettings):
    """Everything `kitkeeper-agent run` needs."""

    model_config = SettingsConfigDict(env_prefix="KITKEEPER_", extra="forbid")

    kit_id: str = Field(
        default_factory=default_kit_id,
        description="This kit's id: the MQTT topic level and, once enrolled, the certificate CN.",
    )
    mqtt_host: str = Field(default="127.0.0.1", description="Broker host name or address.")
    mqtt_port: int = Field(default=1883, ge=1, le=65535, description="Broker port.")
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

    @field_validator("kit_id")
    @classmethod
    def _kit_id(cls, value: str) -> str:
        return validate_kit_id(value)
