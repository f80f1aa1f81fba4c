"""Settings of the outbound master client (built by bridge.config from the ``master:`` block)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class MasterClientSettings:
    """How to reach the Determined master and which credential to present (master-api.md §7.1)."""

    url: str
    token: str | None
    username: str | None
    password: str | None
    connect_timeout: float
    request_timeout: float
    # bcrypt at cost 15 makes login and password writes slow (master-api.md §4.1, §7.3 item 6).
    login_timeout: float
    verify_tls: bool = True
    ca_file: str | None = None
    max_concurrency: int = 16
    retries: int = 3
    breaker_threshold: int = 5
    breaker_cooldown: float = 10.0
    backoff_base: float = 0.2
    backoff_cap: float = 5.0

    def __repr__(self) -> str:
        """Show everything but the secrets."""
        return (
            f"MasterClientSettings(url={self.url!r}, token={'<secret>' if self.token else None}, "
            f"username={self.username!r}, password={'<secret>' if self.password else None}, "
            f"verify_tls={self.verify_tls}, ca_file={self.ca_file!r})"
        )
