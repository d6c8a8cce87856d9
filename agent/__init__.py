"""The kit-side daemon: collects health, publishes it over MQTT, and (later) heals the kit."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kitkeeper")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
