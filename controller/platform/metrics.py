"""Prometheus metrics of one controller process (own registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from protocol.errors import RejectReason
from protocol.topics import AGENT_TO_CONTROLLER


class Metrics:
    """The controller's counters and gauges (registered, and so rendered, in this order)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._messages()
        self._kits()
        self._ingest()
        self._set_apart()
        self._delivery()
        self._crl()
        for reason in [*RejectReason, "rate_limited"]:
            self.rejected.labels(reason=str(reason))
        for channel in AGENT_TO_CONTROLLER:
            self.received.labels(channel=channel.value)
            self.stored.labels(channel=channel.value)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)

    def _counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(name, doc, labels, registry=self.registry)

    def _gauge(self, name: str, doc: str) -> Gauge:
        return Gauge(name, doc, registry=self.registry)

    def _messages(self) -> None:
        """What came from kits and what became of it."""
        self.received = self._counter(
            "kitkeeper_messages_received",
            "Messages received from the broker, by channel (before validation).",
            ("channel",),
        )
        self.rejected = self._counter(
            "kitkeeper_messages_rejected", "Messages rejected, by reason.", ("reason",)
        )
        self.stored = self._counter(
            "kitkeeper_messages_stored",
            "Messages newly committed to the database, by channel.",
            ("channel",),
        )
        self.duplicates = self._counter(
            "kitkeeper_messages_duplicate",
            "Messages received again and absorbed (already stored).",
        )

    def _kits(self) -> None:
        """How many kits, and how many online."""
        self.kits_online = self._gauge("kitkeeper_kits_online", "Kits whose status is online.")
        self.kits_known = self._gauge("kitkeeper_kits_known", "Kits the controller has heard from.")

    def _ingest(self) -> None:
        """The broker connection and the writer behind it."""
        self.mqtt_connected = self._gauge(
            "kitkeeper_mqtt_connected", "1 while the controller is connected to the broker."
        )
        self.queue_depth = self._gauge(
            "kitkeeper_ingest_queue_depth", "Messages received and waiting to be written."
        )
        self.batch_seconds = Histogram(
            "kitkeeper_ingest_batch_seconds",
            "Time to write and commit one batch.",
            registry=self.registry,
        )
        self.write_errors = self._counter(
            "kitkeeper_ingest_write_errors", "Batches whose write failed and was retried."
        )
        self.batch_splits = self._counter(
            "kitkeeper_ingest_batch_splits",
            "Batches split in two to find a message the database refused (should stay 0: "
            "messages are validated before the writer).",
        )
        self.hole_rows_scanned = self._counter(
            "kitkeeper_ingest_hole_rows_scanned",
            "Stored sequence numbers read back to move a kit's watermark over a hole.",
        )
        self.retention_deleted = self._counter(
            "kitkeeper_retention_deleted",
            "Rows deleted by the retention passes, by table.",
            ("table",),
        )

    def _set_apart(self) -> None:
        """Messages kept another way than they came, and kits whose clock is off."""
        self.restamped = self._counter(
            "kitkeeper_messages_restamped",
            "Messages from a kit's clock over a day ahead, kept with their arrival as ts.",
        )
        self.quarantined = self._counter(
            "kitkeeper_messages_quarantined",
            "Messages the database refused for good; set aside and logged (a bug or bad data).",
        )
        self.clock_events = self._counter(
            "kitkeeper_clock_skew_events",
            "clock_skew and clock_ok events recorded (a kit's clock off by over 5 minutes, or "
            "right again).",
        )
        self.kits_clock_skewed = self._gauge(
            "kitkeeper_kits_clock_skewed",
            "Kits whose clock was last seen off by more than 5 minutes.",
        )

    def _delivery(self) -> None:
        """Acknowledgements sent back, and handling that failed."""
        self.acks_published = self._counter(
            "kitkeeper_acks_published",
            "Ack watermarks published to kits (after their data was committed).",
        )
        self.callback_errors = self._counter(
            "kitkeeper_ingest_callback_errors",
            "Messages whose handling failed unexpectedly (a bug: see the log).",
        )

    def _crl(self) -> None:
        """The revocation list the broker checks."""
        self.crl_age_seconds = self._gauge(
            "kitkeeper_crl_age_seconds",
            "Seconds since the revocation list the broker checks was signed (its thisUpdate).",
        )
        self.crl_next_update = self._gauge(
            "kitkeeper_crl_next_update_timestamp_seconds",
            "When that revocation list stops being valid (its nextUpdate, Unix time); past it the "
            "broker refuses every kit.",
        )
