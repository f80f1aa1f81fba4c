"""Server-side TLS: an SSLContext from the configured certificate and key."""

from __future__ import annotations

import ssl

from bridge.config import ServerSettings


def server_ssl_context(server: ServerSettings) -> ssl.SSLContext | None:
    """A TLS 1.2+ server context when cert and key are configured, else None (plain HTTP)."""
    if not server.tls_cert or not server.tls_key:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(server.tls_cert, server.tls_key)
    return context
