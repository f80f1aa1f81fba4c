"""The bridge's own master credential as an aiohttp client middleware (master-api.md §7.1, conventions §1.1).

Modelled on aiohttp's ``examples/token_refresh_middleware.py``: it adds ``Authorization: Bearer``, and in
password mode logs in on first use and again on a 401, single-flight (one lock, double-checked against the
token the failed request carried), then retries the original request once. The login request itself is sent
with ``middlewares=()`` so it does not recurse. With only an access token configured, a 401 is returned to
the caller (a revoked token needs an operator, §7.1); with username/password too, it falls back to login.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
import structlog
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, hdrs

from bridge.determined.calls import record_call
from bridge.determined.errors import MasterProtocolError, error_from_response
from bridge.determined.models import login_body, parse_login
from bridge.determined.passwords import salt_and_hash
from bridge.determined.settings import MasterClientSettings

LOGIN_PATH = "/api/v1/auth/login"


class MasterCredential:
    """Client middleware holding the bridge's bearer token; logs in with username/password when configured."""

    def __init__(self, settings: MasterClientSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._url = settings.url.rstrip("/") + LOGIN_PATH
        self._username = settings.username
        self._password = settings.password
        self._login_timeout = aiohttp.ClientTimeout(
            total=settings.login_timeout, sock_connect=settings.connect_timeout
        )
        # An access token is preferred (§7.1); username/password is the fallback, and also takes over when a
        # configured token is rejected (revoked or expired) and both are configured.
        self._login_mode = settings.username is not None and settings.password is not None
        self._token: str | None = settings.token or None
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

    async def ensure_token(self, session: aiohttp.ClientSession) -> None:
        """Log in now if password mode has no session token yet (called before a request's own timeout)."""
        if self.needs_login:
            await self._refresh(session, stale=None)

    async def __call__(self, req: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """Attach the bearer token; on 401 in password mode, re-login once and replay the request."""
        if self.needs_login:
            await self._refresh(req.session, stale=None)
        sent = self._token
        if sent is not None:
            req.headers[hdrs.AUTHORIZATION] = f"Bearer {sent}"
        resp = await handler(req)
        if resp.status != 401 or not self.uses_login:
            return resp
        resp.release()
        await self._refresh(req.session, stale=sent)
        req.headers[hdrs.AUTHORIZATION] = f"Bearer {self._token}"
        record_call()
        return await handler(req)

    async def _refresh(self, session: aiohttp.ClientSession, stale: str | None) -> None:
        async with self._lock:
            # Double check: another request may have logged in while this one waited for the lock.
            if self._token is not None and self._token != stale:
                return
            self._token = await self._login(session)

    async def _login(self, session: aiohttp.ClientSession) -> str:
        assert self._username is not None
        assert self._password is not None
        log = structlog.get_logger()
        started = self._clock()
        record_call()
        self.logins += 1
        status: int | None = None
        try:
            async with session.post(
                self._url,
                json=login_body(self._username, salt_and_hash(self._password)),
                timeout=self._login_timeout,
                middlewares=(),
            ) as resp:
                status = resp.status
                if resp.status != 200:
                    raise error_from_response(resp.status, await resp.read(), None)
                try:
                    doc = await resp.json(content_type=None)
                except ValueError:
                    raise MasterProtocolError("login: body is not JSON", http_status=200) from None
                return parse_login(doc).token
        finally:
            log.debug(
                "master.call",
                method="POST",
                path=LOGIN_PATH,
                status=status,
                duration_ms=round((self._clock() - started) * 1000, 1),
            )
