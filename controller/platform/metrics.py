"""Prometheus metrics of one controller process (own registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from protocol.errors import RejectReason
from protocol.topics import AGENT_TO_CONTROLLER


class Metrics:
    """The controller's counters and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            "kitkeeper_messages_received",
            "Messages received from the broker, by channel (before validation).",
            ["channel"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "kitkeeper_messages_rejected",
            "Messages rejected, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.stored = Counter(
            "kitkeeper_messages_stored",
            "Messages newly committed to the database, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "kitkeeper_messages_duplicate",
            "Messages received again and absorbed (already stored).",
            registry=self.registry,
        )
        self.kits_online = Gauge(
            "kitkeeper_kits_online", "Kits whose status is online.", registry=self.registry
        )
        self.kits_known = Gauge(
            "kitkeeper_kits_known", "Kits the controller has heard from.", registry=self.registry
        )
        self.mqtt_connected = Gauge(
            "kitkeeper_mqtt_connected",
            "1 while the controller is connected to the broker.",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "kitkeeper_ingest_queue_depth",
            "Messages received and waiting to be written.",
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "kitkeeper_ingest_batch_seconds",
            "Time to write and commit one batch.",
            registry=self.registry,
        )
        self.write_errors = Counter(
            "kitkeeper_ingest_write_errors",
            "Batches whose write failed and was retried.",
            registry=self.registry,
        )
        self.restamped = Counter(
            "kitkeeper_messages_restamped",
            "Messages from a kit's clock over a day ahead, kept with their arrival as ts.",
            registry=self.registry,
        )
        self.quarantined = Counter(
            "kitkeeper_messages_quarantined",
            "Messages the database refused for good; set aside and logged (a bug or bad data).",
            registry=self.registry,
        )
        self.clock_events = Counter(
            "kitkeeper_clock_skew_events",
            "clock_skew and clock_ok events recorded (a kit's clock off by over 5 minutes, or "
            "right again).",
            registry=self.registry,
        )
        self.kits_clock_skewed = Gauge(
            "kitkeeper_kits_clock_skewed",
            "Kits whose clock was last seen off by more than 5 minutes.",
            registry=self.registry,
        )
        self.acks_published = Counter(
            "kitkeeper_acks_published",
            "Ack watermarks published to kits (after their data was committed).",
            registry=self.registry,
        )
        self.callback_errors = Counter(
            "kitkeeper_ingest_callback_errors",
            "Messages whose handling failed unexpectedly (a bug: see the log).",
            registry=self.registry,
        )
        self.crl_age_seconds = Gauge(
            "kitkeeper_crl_age_seconds",
            "Seconds since the revocation list the broker checks was signed (its thisUpdate).",
            registry=self.registry,
        )
        self.crl_next_update = Gauge(
            "kitkeeper_crl_next_update_timestamp_seconds",
            "When that revocation list stops being valid (its nextUpdate, Unix time); past it the "
            "broker refuses every kit.",
            registry=self.registry,
        )
        for reason in RejectReason:
            self.rejected.labels(reason=reason.value)
        for channel in AGENT_TO_CONTROLLER:
            self.received.labels(channel=channel.value)
            self.stored.labels(channel=channel.value)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
