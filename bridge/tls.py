"""Server-side TLS: an SSLContext from the configured certificate and key, reloadable on SIGHUP."""

from __future__ import annotations

import ssl

import structlog

from bridge.config import ServerSettings

_log = structlog.get_logger("bridge.tls")


class ReloadableServerContext(ssl.SSLContext):
    """A TLS 1.2+ server context that can re-read its certificate and key in place.

    ``load_cert_chain`` on the live context affects every connection accepted afterwards; connections
    already established keep the certificate they negotiated.
    """

    cert_path: str
    key_path: str

    def reload(self) -> bool:
        """Re-read cert and key; on failure keep serving the previous pair and log why."""
        try:
            self.load_cert_chain(self.cert_path, self.key_path)
        except (OSError, ssl.SSLError) as exc:
            _log.error("tls.reload_failed", cert=self.cert_path, error=type(exc).__name__)
            return False
        _log.info("tls.reloaded", cert=self.cert_path)
        return True


def server_ssl_context(server: ServerSettings) -> ReloadableServerContext | None:
    """A TLS 1.2+ server context when cert and key are configured, else None (plain HTTP)."""
    if not server.tls_cert or not server.tls_key:
        return None
    context = ReloadableServerContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.cert_path = server.tls_cert
    context.key_path = server.tls_key
    context.load_cert_chain(server.tls_cert, server.tls_key)
    return context
