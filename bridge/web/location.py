"""Resource URLs for `meta.location`, `Location` and member `$ref` (RFC 7644 §3.1), from server.public_url."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bridge.web.keys import PUBLIC_URL


@dataclass(frozen=True, slots=True)
class Locations:
    """Endpoint URLs as the client sees them, without trailing slashes."""

    base: str

    @property
    def users(self) -> str:
        """The /Users endpoint."""
        return f"{self.base}/Users"

    @property
    def groups(self) -> str:
        """The /Groups endpoint."""
        return f"{self.base}/Groups"

    def user(self, scim_id: str) -> str:
        """One user's URL."""
        return f"{self.users}/{scim_id}"

    def group(self, scim_id: str) -> str:
        """One group's URL."""
        return f"{self.groups}/{scim_id}"


def base_url(request: web.Request) -> str:
    """The SCIM base URL for this request: server.public_url if set, else the request's (trusted) scheme and
    host."""
    return request.app[PUBLIC_URL].base_url(request)


def locations(request: web.Request) -> Locations:
    """Locations for this request (`base_url`)."""
    return Locations(base_url(request))
