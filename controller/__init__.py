"""The central service: ingest, storage, and the HTTP API (later rules, contracts, PKI, content)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kitkeeper")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
