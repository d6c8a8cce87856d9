"""The client certificate a kit presents over TLS, handed to the app as the ASGI TLS extension.

`serve` asks every HTTPS client for a certificate from the device CA, optionally
(`ssl.CERT_OPTIONAL`: staff and their browsers present none, a kit presents the one it uses for
MQTT, and one that does not chain to the CA ends the handshake). Uvicorn does not put the peer's
certificate in the ASGI scope, so `ClientCertProtocol` (uvicorn's own HTTP protocol) reads it
once per connection, after the handshake, and adds it to every request's scope as
`scope["extensions"]["tls"]["client_cert_chain"]` (a list of PEM strings), as the ASGI TLS
extension names it. `client_certificate(scope)` reads it back in a route.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol

TLS_EXTENSION: Final = "tls"


def peer_certificate(transport: asyncio.BaseTransport) -> bytes | None:
    """The DER certificate the client presented on this connection (None: none, or no TLS)."""
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    return ssl_object.getpeercert(binary_form=True)


class WithClientCert:
    """One connection's app: the same app, with the peer's certificate in each request's scope."""

    def __init__(self, app: ASGIApp, der: bytes) -> None:
        self.app = app
        self.pem = x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the TLS extension to the scope and pass the request on."""
        if scope["type"] == "http":
            extensions: dict[str, Any] = dict(scope.get("extensions") or {})
            extensions[TLS_EXTENSION] = {"client_cert_chain": [self.pem]}
            scope = {**scope, "extensions": extensions}
        await self.app(scope, receive, send)


def client_certificate(scope: Scope) -> x509.Certificate | None:
    """The certificate the client presented over TLS (verified by the handshake), if any."""
    tls = (scope.get("extensions") or {}).get(TLS_EXTENSION) or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return None
    return x509.load_pem_x509_certificate(str(chain[0]).encode("ascii"))


class ClientCertProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """Uvicorn's HTTP protocol, telling the app which certificate the client presented."""

    app: ASGIApp

    def connection_made(self, transport: asyncio.Transport) -> None:
        """Set the connection up as uvicorn does; wrap the app when a certificate came."""
        super().connection_made(transport)
        der = peer_certificate(transport)
        if der:
            self.app = WithClientCert(self.app, der)
