"""The bridge's own master credential: a bearer token, or a login session (master-api.md §7.1, conventions §1.1).

In password mode it logs in on first use and again when the master answers 401, single-flight (one lock,
double-checked against the token the failed request carried); the client then replays the request once.
With only an access token configured, a 401 goes back to the caller (a revoked token needs an operator,
§7.1); with username/password too, it falls back to login.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from json import dumps

import structlog

from bridge.determined.calls import record_call
from bridge.determined.errors import MasterProtocolError, error_from_response, redirect_error
from bridge.determined.models import decode_json, login_body, parse_login
from bridge.determined.passwords import salt_and_hash
from bridge.determined.settings import MasterClientSettings
from bridge.determined.transport import MasterTransport

LOGIN_PATH = "/api/v1/auth/login"


class MasterCredential:
    """Holds the bridge's bearer token; logs in with username/password when configured."""

    def __init__(self, settings: MasterClientSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._username = settings.username
        self._password = settings.password
        self._login_timeout = settings.login_timeout
        # An access token is preferred (§7.1); username/password is the fallback, and also takes over when a
        # configured token is rejected (revoked or expired) and both are configured.
        self._login_mode = settings.username is not None and settings.password is not None
        self._token: str | None = settings.token or None
        if self._token is not None and not _header_safe(self._token):
            raise ValueError("the master token must not contain line breaks")
        self._lock = asyncio.Lock()
        self._clock = clock
        self.logins = 0

    @property
    def uses_login(self) -> bool:
        """True when username/password are configured, so the credential can (re-)login (§7.1 fallback)."""
        return self._login_mode

    @property
    def needs_login(self) -> bool:
        """True when password mode has no session token yet; lets callers skip ``ensure_token`` otherwise."""
        return self._login_mode and self._token is None

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header value to send now, or None without a token."""
        token = self._token
        return None if token is None else f"Bearer {token}"

    async def ensure_token(self, transport: MasterTransport) -> None:
        """Log in now if password mode has no session token yet."""
        if self.needs_login:
            await self.refresh(transport, stale=None)

    async def refresh(self, transport: MasterTransport, stale: str | None) -> None:
        """Log in again unless another caller already replaced ``stale`` (the header the refused request sent)."""
        async with self._lock:
            # Double check: another request may have logged in while this one waited for the lock.
            if self._token is not None and self.authorization != stale:
                return
            self._token = await self._login(transport)

    async def _login(self, transport: MasterTransport) -> str:
        assert self._username is not None
        assert self._password is not None
        log = structlog.get_logger()
        started = self._clock()
        record_call()
        self.logins += 1
        status: int | None = None
        body = dumps(login_body(self._username, salt_and_hash(self._password))).encode()
        try:
            status, answer, _, location = await transport.request(
                "POST",
                LOGIN_PATH,
                body=body,
                read_timeout=None,
                deadline=asyncio.get_running_loop().time() + self._login_timeout,
                repeatable=True,  # a login only starts a session: sending it twice is harmless
            )
            if 300 <= status < 400:
                raise redirect_error(status, location, LOGIN_PATH)
            if status != 200:
                raise error_from_response(status, answer, None)
            try:
                doc = decode_json(answer)
            except ValueError:
                raise MasterProtocolError("login: body is not JSON", http_status=200) from None
            token = parse_login(doc).token
            if not _header_safe(token):
                raise MasterProtocolError("login: the token cannot be sent in a header", http_status=200)
            return token
        finally:
            log.debug(
                "master.call",
                method="POST",
                path=LOGIN_PATH,
                status=status,
                duration_ms=round((self._clock() - started) * 1000, 1),
            )


def _header_safe(token: str) -> bool:
    # The transport writes header lines as given: a line break would end the header early (and add another).
    return "\r" not in token and "\n" not in token
