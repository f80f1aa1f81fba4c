"""Translate validated Settings into the settings objects of the inner packages (which import no config)."""

from __future__ import annotations

from bridge.config import DatabaseSettings, MasterSettings, Settings
from bridge.determined import MasterClientSettings


def master_client_settings(master: MasterSettings) -> MasterClientSettings:
    """The outbound client's settings from the ``master:`` block; secrets are revealed only here."""
    return MasterClientSettings(
        url=master.url,
        token=master.token.reveal() if master.token else None,
        username=master.username,
        password=master.password.reveal() if master.password else None,
        connect_timeout=master.connect_timeout,
        request_timeout=master.request_timeout,
        login_timeout=master.login_timeout,
        verify_tls=master.verify_tls,
        ca_file=master.ca_file,
        max_concurrency=master.max_concurrency,
        retries=master.retries,
    )


def busy_timeout_ms(database: DatabaseSettings) -> int:
    """The store's busy timeout (``open_store(busy_timeout_ms=...)``) from ``database.busy_timeout``."""
    return round(database.busy_timeout * 1000)


def protected_usernames(settings: Settings) -> tuple[str, ...]:
    """Names adoption never links: users.protected_usernames plus the bridge's own master account."""
    return (
        *settings.users.protected_usernames,
        *([settings.master.username] if settings.master.username else []),
    )
