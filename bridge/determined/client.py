"""DeterminedClient: one typed method per master endpoint the bridge uses (master-api.md §2, §4, §7).

Every call is bounded (adaptive limiter), timed out, logged as ``master.call`` (method, path template, status,
duration; never bodies, headers or tokens), counted (``calls.py``) and guarded by a circuit breaker. Only
idempotent calls are retried after they may have reached the master; a connection that was never
established is retried for any method, because nothing was sent. HTTP itself is ``transport.py``'s.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

import structlog

from bridge import jsonenc
from bridge.determined import models
from bridge.determined.breaker import CircuitBreaker
from bridge.determined.calls import MasterCallObserver, record_call
from bridge.determined.credentials import MasterCredential
from bridge.determined.errors import (
    UNAVAILABLE_STATUSES,
    MasterError,
    MasterMismatch,
    MasterNotFound,
    MasterProtocolError,
    MasterUnavailable,
    MasterUnverified,
    error_from_response,
    redirect_error,
)
from bridge.determined.limiter import AdaptiveLimiter
from bridge.determined.passwords import salt_and_hash
from bridge.determined.retry import backoff_delay, parse_retry_after
from bridge.determined.settings import MasterClientSettings
from bridge.determined.transport import Answer, AnswerTimeout, ConnectFailed, ConnectionLost, MasterTransport

_NO_BODY: Final = object()
# §4.12: group search rejects limits above 500.
GROUP_PAGE_MAX: Final = 500
# RFC 9110 §9.2.2: methods whose repetition has the effect of one request.
_IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class _Transient(Exception):
    """An attempt that failed to reach the master; ``sent`` says whether the request may have arrived."""

    def __init__(self, error: MasterUnavailable, *, sent: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.sent = sent


def _session_failure(exc: MasterError) -> str:
    """The outcome label of a call its session's opening stopped (bounded: the metric's label values)."""
    if isinstance(exc, MasterMismatch):
        return "mismatch"  # another cluster than the database's
    if isinstance(exc, MasterUnverified):
        return "unverified"  # the bridge's own database failed: not the master's failure
    return "login"


def escape_like(value: str) -> str:
    """Escape ``\\``, ``%`` and ``_`` so GetUsers' ``name`` ILIKE filter matches them literally (§4.4, §7.2)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _path_segment(value: int | str) -> str:
    # Ids are ints (nothing to escape); names are percent-encoded whole, "/" included.
    return str(value) if isinstance(value, int) else quote(value, safe="")


def _ssl_context(settings: MasterClientSettings) -> ssl.SSLContext:
    if not settings.verify_tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=settings.ca_file)


def create_master_client(
    settings: MasterClientSettings,
    *,
    clock: Callable[[], float] = time.monotonic,
    rng: Callable[[], float] = random.random,
    observer: MasterCallObserver | None = None,
    session_check: SessionCheck | None = None,
) -> DeterminedClient:
    """Build credential, transport and client together; call ``await client.close()`` at cleanup."""
    transport = MasterTransport(
        settings.url,
        ssl_context=_ssl_context(settings) if settings.url.lower().startswith("https:") else None,
        connect_timeout=settings.connect_timeout,
        limit=settings.max_concurrency,
    )
    credential = MasterCredential(settings, clock=clock)
    return DeterminedClient(
        transport, settings, credential, clock=clock, rng=rng, observer=observer, session_check=session_check
    )


# Asked with the master's GET /api/v1/master answer whenever the client opens a session (its first authenticated
# call, and each re-login); raises a MasterError to refuse that master (bridge.provisioning.binding):
# MasterMismatch, or MasterUnverified when a failure of its own keeps it from deciding. Either is passed to the
# caller as it is, unretried and kept from the circuit breaker; only a MasterUnavailable counts as the master's.
SessionCheck = Callable[[models.MasterInfo], Awaitable[None]]


class DeterminedClient:
    """Async client of the Determined master's REST API; knows nothing about SCIM."""

    def __init__(
        self,
        transport: MasterTransport,
        settings: MasterClientSettings,
        credential: MasterCredential,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        observer: MasterCallObserver | None = None,
        session_check: SessionCheck | None = None,
    ) -> None:
        self._transport = transport
        self._settings = settings
        self._credential = credential
        self._limiter = AdaptiveLimiter(settings.max_concurrency)
        self._breaker = CircuitBreaker(settings.breaker_threshold, settings.breaker_cooldown, clock)
        self._clock = clock
        self._rng = rng
        self._observer = observer
        self._reached_last_time = True
        self._session_check = session_check
        # The Authorization header whose session passed the check; "" (no header is "") until one has.
        self._checked: str | None = ""
        self._check_lock = asyncio.Lock()
        # An attempt's overall budget includes one login when the credential may log in on a 401.
        self._extra_budget = settings.login_timeout if credential.uses_login else 0.0
        # One lazy proxy for the client's life: structlog.get_logger() per call built a new proxy, and binding
        # it showed in write profiles. Unless loggers are cached (serve), the proxy still re-binds per event,
        # so a reconfiguration (tests) is still honoured.
        self._log = structlog.get_logger()

    @property
    def healthy(self) -> bool:
        """False while the circuit is open or the last attempt could not reach the master."""
        return self._reached_last_time and not self._breaker.is_open

    @property
    def credential(self) -> MasterCredential:
        """The bridge's master credential (exposes ``logins`` and ``uses_login``)."""
        return self._credential

    async def close(self) -> None:
        """Close the connections to the master."""
        await self._transport.close()

    async def ping(self) -> bool:
        """One unauthenticated, unretried ``GET /api/v1/master``; True if the master answered 200 (§4.20)."""
        try:
            await self._call("GET", "/api/v1/master", idempotent=True, authenticated=False, retries=0)
        except MasterError:
            return False
        return True

    # --- master and caller ------------------------------------------------------------------------------

    async def master_info(self) -> models.MasterInfo:
        """``GET /api/v1/master``; needs no credential (§1.2)."""
        doc = await self._call("GET", "/api/v1/master", idempotent=True, authenticated=False)
        return models.parse_master_info(doc)

    async def identify(self) -> models.MasterInfo:
        """One ``GET /api/v1/master`` straight on the transport, for a probe: no retry, no limiter slot, and
        the circuit breaker neither asked nor told (a probe at start-up must not open it for the IdP)."""
        try:
            return await self._master_info_direct()
        except (ConnectFailed, AnswerTimeout, ConnectionLost) as exc:
            raise MasterUnavailable(f"master unreachable: {exc}") from exc

    async def open_session(self) -> None:
        """Open the master session now (a login, when the credential logs in) and run the session check on it, as
        the first authenticated call would: that call then finds the session checked, so a probe at start-up
        asks the master which cluster it is once, not twice. As ``identify``: no retry, no limiter slot, and
        the circuit breaker neither asked nor told. Every later session is checked as it opens."""
        try:
            await self._credential.ensure_token(self._transport)
            if self._session_check is not None and self._credential.authorization != self._checked:
                await self._check_session()
        except (ConnectFailed, AnswerTimeout, ConnectionLost) as exc:
            raise MasterUnavailable(f"master unreachable: {exc}") from exc

    async def me(self) -> models.MasterUser:
        """``GET /api/v1/me``: the bridge's own account."""
        return models.parse_user_envelope(await self._call("GET", "/api/v1/me", idempotent=True))

    async def current_user(self) -> models.MasterUser:
        """``GET /api/v1/auth/user``: same answer as ``me()`` (§4.2)."""
        return models.parse_user_envelope(await self._call("GET", "/api/v1/auth/user", idempotent=True))

    # --- users ------------------------------------------------------------------------------------------

    async def get_user(self, det_id: int) -> models.MasterUser:
        """``GET /api/v1/users/{id}``; MasterNotFound if unknown (§4.5)."""
        doc = await self._call("GET", "/api/v1/users/{id}", {"id": det_id}, idempotent=True)
        return models.parse_user_envelope(doc)

    async def get_user_by_username(self, name: str) -> models.MasterUser | None:
        """Exact, case-sensitive lookup (§4.6); None if the master says it has no such user. Names the route cannot
        carry go through the list."""
        # "/" splits the route (501) and dot segments are normalised away by URL handling: use the list.
        if "/" in name or name in {".", ".."}:
            async for user in self.iter_users(name=escape_like(name)):
                if user.username == name:
                    return user
            return None
        try:
            doc = await self._call("GET", "/api/v1/users/{name}/by-username", {"name": name}, idempotent=True)
        except MasterNotFound as err:
            # The master's own "user not found"; any other 404 (a proxy's page) says nothing about the name.
            if err.is_unknown_user():
                return None
            raise
        return models.parse_user_envelope(doc)

    async def list_users(
        self,
        offset: int = 0,
        limit: int = 0,
        name: str | None = None,
        *,
        active: bool | None = None,
        admin: bool | None = None,
        sort_by: str | None = None,
        descending: bool = False,
    ) -> models.MasterUserPage:
        """One page of ``GET /api/v1/users``; ``limit=0`` means all; ``name`` is an ILIKE substring (§4.4)."""
        query: dict[str, str] = {"offset": str(offset), "limit": str(limit)}
        if name:
            query["name"] = name
        if active is not None:
            query["active"] = "true" if active else "false"
        if admin is not None:
            query["admin"] = "true" if admin else "false"
        if sort_by is not None:
            query["sortBy"] = sort_by
        if descending:
            query["orderBy"] = "ORDER_BY_DESC"
        doc = await self._call("GET", "/api/v1/users", query=query, idempotent=True)
        return models.parse_user_page(doc)

    async def iter_users(
        self, name: str | None = None, page_size: int = 500
    ) -> AsyncIterator[models.MasterUser]:
        """Every user matching ``name``, paging with ``offset = endIndex`` until ``endIndex >= total`` (§1.6)."""
        offset = 0
        while True:
            page = await self.list_users(offset, page_size, name)
            for user in page.users:
                yield user
            if page.pagination.end_index >= page.pagination.total or not page.users:
                return
            offset = page.pagination.end_index

    async def create_user(
        self,
        username: str,
        display_name: str,
        active: bool,
        admin: bool = False,
        remote: bool = True,
        password: str | None = None,
    ) -> models.MasterUser:
        """``POST /api/v1/users`` (§4.7); the password is client-salted and sent with ``isHashed: true``.

        Refuses (ValueError) a password for a remote user (the master's 400) and a local user without one,
        which the master would store as a blank-password login (§4.7 step 8, §7.2).
        """
        if remote and password:
            raise ValueError("remote users cannot have a password")
        if not remote and not password:
            raise ValueError("a local user needs a password; the master would allow blank-password login")
        body = models.post_user_body(
            username=username,
            display_name=display_name,
            active=active,
            admin=admin,
            remote=remote,
            hashed_password=salt_and_hash(password or ""),
        )
        doc = await self._call("POST", "/api/v1/users", json=body, slow=bool(password))
        return models.parse_user_envelope(doc)

    async def patch_user(
        self,
        det_id: int,
        *,
        active: bool,
        display_name: str | None = None,
        username: str | None = None,
        remote: bool | None = None,
        password: str | None = None,
        admin: bool | None = None,
    ) -> models.MasterUser:
        """``PATCH /api/v1/users/{id}`` sending ``active`` always and other fields only when given (§4.9).

        Without ``active`` the master revokes all the user's access tokens (§4.9 step 10).
        """
        body = models.patch_user_body(
            active=active,
            display_name=display_name,
            username=username,
            remote=remote,
            hashed_password=None if password is None else salt_and_hash(password),
            admin=admin,
        )
        slow = password is not None or remote is not None
        doc = await self._call("PATCH", "/api/v1/users/{id}", {"id": det_id}, json=body, slow=slow)
        return models.parse_user_envelope(doc)

    async def set_password(self, det_id: int, password: str) -> models.MasterUser:
        """``POST /api/v1/users/{id}/password``: body is the bare plaintext JSON string, the master salts it (§4.8)."""
        doc = await self._call(
            "POST", "/api/v1/users/{id}/password", {"id": det_id}, json=password, slow=True
        )
        return models.parse_user_envelope(doc)

    # --- groups -----------------------------------------------------------------------------------------

    async def create_group(self, name: str, add_users: Sequence[int] = ()) -> models.MasterGroupDetails:
        """``POST /api/v1/groups`` (§4.11); the answer includes the members."""
        doc = await self._call("POST", "/api/v1/groups", json=models.create_group_body(name, add_users))
        return models.parse_group_details(doc)

    async def search_groups(
        self,
        name: str | None = None,
        user_id: int | None = None,
        offset: int = 0,
        limit: int = GROUP_PAGE_MAX,
    ) -> models.MasterGroupPage:
        """``POST /api/v1/groups/search`` (§4.12): exact name, or groups of ``user_id``; idempotent, so retried."""
        body = models.search_groups_body(name, user_id, offset, limit)
        doc = await self._call("POST", "/api/v1/groups/search", json=body, idempotent=True)
        return models.parse_group_page(doc)

    async def iter_groups(
        self, name: str | None = None, user_id: int | None = None
    ) -> AsyncIterator[models.MasterGroup]:
        """Every matching group, in pages of 500 (§1.6 SQL pagination)."""
        offset = 0
        while True:
            page = await self.search_groups(name, user_id, offset, GROUP_PAGE_MAX)
            for group in page.groups:
                yield group
            if not page.groups or page.pagination.end_index >= page.pagination.total:
                return
            offset = page.pagination.end_index

    async def get_group(self, det_group_id: int) -> models.MasterGroupDetails:
        """``GET /api/v1/groups/{id}`` with members (§4.13)."""
        doc = await self._call("GET", "/api/v1/groups/{id}", {"id": det_group_id}, idempotent=True)
        return models.parse_group_details(doc)

    async def update_group(
        self,
        det_group_id: int,
        *,
        name: str | None = None,
        add_users: Sequence[int] = (),
        remove_users: Sequence[int] = (),
    ) -> models.MasterGroupDetails:
        """One ``PUT /api/v1/groups/{id}``: rename, add, remove in one master transaction (§4.14)."""
        body = models.update_group_body(name, add_users, remove_users)
        doc = await self._call("PUT", "/api/v1/groups/{id}", {"id": det_group_id}, json=body)
        return models.parse_group_details(doc)

    async def change_group(
        self,
        det_group_id: int,
        *,
        name: str | None = None,
        add_users: Sequence[int] = (),
        remove_users: Sequence[int] = (),
    ) -> None:
        """``update_group`` for callers that need no answer (renames, reconcile repairs): the master's answer
        lists every member, so it is read but never decoded."""
        body = models.update_group_body(name, add_users, remove_users)
        await self._call("PUT", "/api/v1/groups/{id}", {"id": det_group_id}, json=body, decode=False)

    async def delete_group(self, det_group_id: int) -> None:
        """``DELETE /api/v1/groups/{id}`` (§4.15)."""
        await self._call("DELETE", "/api/v1/groups/{id}", {"id": det_group_id})

    async def add_to_groups(self, user_ids: Sequence[int], group_ids: Sequence[int]) -> None:
        """``PATCH /api/v1/users/assignments`` with ``addGroups`` (§4.16): every user joins every group.

        Unlike UpdateGroup, existing memberships are skipped rather than refused with 409, and the answer is
        ``{}`` rather than the whole member list, so the master's work is O(users * groups), not O(group
        size). Being idempotent, the call is retried like a read. MasterNotFound if a group is missing or
        personal; nothing is applied then (one transaction).
        """
        body = models.assign_groups_body(user_ids, group_ids, ())
        await self._call("PATCH", "/api/v1/users/assignments", json=body, idempotent=True, decode=False)

    async def remove_from_groups(self, user_ids: Sequence[int], group_ids: Sequence[int]) -> None:
        """``PATCH /api/v1/users/assignments`` with ``removeGroups`` (§4.16): no user stays in any group.

        The master refuses with 404 when none of the users were members; that is the goal state, and also
        what a retry meets after an attempt whose answer was lost had landed, so that 404 counts as success
        and the call is retried like an idempotent one. MasterNotFound if a group is missing or personal.
        """
        body = models.assign_groups_body(user_ids, (), group_ids)
        try:
            await self._call("PATCH", "/api/v1/users/assignments", json=body, idempotent=True, decode=False)
        except MasterNotFound as err:
            if not err.is_no_member_removed():
                raise

    async def leave_groups(self, user_id: int, group_ids: Sequence[int]) -> None:
        """Take ``user_id`` out of every one of ``group_ids`` with one assignments call (§7.2 Delete user).

        One deleted group fails the whole call (§4.16), so on that 404 the user's remaining memberships are
        read (``groups/search`` by ``userId``, O(the user's groups)) and the call is repeated once for them.
        Only the master's own "group does not exist" is that 404 (an unknown user is "none were members",
        already success): any other, such as a proxy's page, is raised as the failed call it is.
        """
        if not group_ids:
            return
        try:
            await self.remove_from_groups([user_id], group_ids)
        except MasterNotFound as err:
            if not err.is_unknown_group():
                raise
            wanted = set(group_ids)
            left = [group.id async for group in self.iter_groups(user_id=user_id) if group.id in wanted]
            if left:
                await self.remove_from_groups([user_id], left)

    # --- tokens -----------------------------------------------------------------------------------------

    async def create_token(
        self, user_id: int, lifespan: str | None = "-1", description: str = "scim-bridge"
    ) -> models.CreatedToken:
        """``POST /api/v1/tokens`` (§4.17, §7.1); ``"-1"`` asks for the configured maximum lifespan."""
        body = models.create_token_body(user_id, lifespan, description)
        return models.parse_created_token(await self._call("POST", "/api/v1/tokens", json=body))

    # --- transport --------------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        template: str,
        path_params: Mapping[str, int | str] | None = None,
        *,
        query: Mapping[str, str] | None = None,
        json: Any = _NO_BODY,
        idempotent: bool = False,
        slow: bool = False,
        authenticated: bool = True,
        retries: int | None = None,
        decode: bool = True,
    ) -> Any:
        path = (
            template.format(**{k: _path_segment(v) for k, v in path_params.items()})
            if path_params
            else template
        )
        # Encoded once for all attempts (orjson: ~2% of a master call less than json.dumps).
        body = None if json is _NO_BODY else jsonenc.dumps(json)
        max_retries = self._settings.retries if retries is None else retries
        attempt = 0
        while True:
            remaining = self._breaker.retry_after()
            if remaining is not None:
                raise MasterUnavailable("master circuit open", retry_after=remaining)
            try:
                return await self._attempt(
                    method, template, path, query, body, idempotent, slow, authenticated, decode
                )
            except _Transient as exc:
                may_retry = idempotent or not exc.sent
                if not may_retry or attempt >= max_retries:
                    raise exc.error from exc.__cause__
                delay = backoff_delay(
                    attempt, self._settings.backoff_base, self._settings.backoff_cap, self._rng
                )
                hint = exc.error.retry_after
                if hint is not None:
                    if hint > self._settings.backoff_cap:
                        raise exc.error from exc.__cause__
                    delay = max(delay, hint)
                attempt += 1
                await asyncio.sleep(delay)

    async def _attempt(
        self,
        method: str,
        template: str,
        path: str,
        query: Mapping[str, str] | None,
        body: bytes | None,
        idempotent: bool,
        slow: bool,
        authenticated: bool,
        decode: bool,
    ) -> Any:
        if not self._limiter.try_acquire():
            await self._limiter.acquire()
        overloaded = False
        try:
            status, answer, retry_after, location = await self._exchange(
                method, template, path, query, body, idempotent, slow, authenticated
            )
            overloaded = status == 429 or status in UNAVAILABLE_STATUSES
        except _Transient:
            overloaded = True
            raise
        finally:
            self._limiter.release(overloaded=overloaded)
        if status in UNAVAILABLE_STATUSES:
            self._note_unreachable()
            error = error_from_response(status, answer, retry_after)
            assert isinstance(error, MasterUnavailable)
            raise _Transient(error, sent=True)
        self._breaker.record_success()
        self._reached_last_time = True
        if 300 <= status < 400:
            raise redirect_error(status, location, path)
        if status != 200:
            raise error_from_response(status, answer, retry_after)
        if not decode:
            return None
        if not answer.strip():
            return {}
        try:
            return models.decode_json(answer)
        except ValueError:
            raise MasterProtocolError(f"{method} {template}: body is not JSON", http_status=200) from None

    async def _exchange(
        self,
        method: str,
        template: str,
        path: str,
        query: Mapping[str, str] | None,
        body: bytes | None,
        idempotent: bool,
        slow: bool,
        authenticated: bool,
    ) -> tuple[int, bytes, float | None, str | None]:
        """One attempt: the request, and on a 401 in password mode one re-login and one replay, within one budget
        (the read timeout, plus the login timeout when a login may happen inside it)."""
        started = self._clock()
        status: int | None = None
        failure: str | None = None
        transport = self._transport
        credential = self._credential
        read_timeout = self._settings.login_timeout if slow else self._settings.request_timeout
        repeatable = idempotent or method in _IDEMPOTENT_METHODS
        try:
            if authenticated and credential.needs_login:
                await credential.ensure_token(transport)
            if (
                authenticated
                and self._session_check is not None
                and credential.authorization != self._checked
            ):
                await self._check_session()
            deadline = asyncio.get_running_loop().time() + read_timeout + self._extra_budget

            async def send(authorization: str | None) -> Answer:
                record_call()
                return await transport.request(
                    method,
                    path,
                    query=query,
                    authorization=authorization,
                    body=body,
                    read_timeout=read_timeout,
                    deadline=deadline,
                    repeatable=repeatable,
                )

            sent = credential.authorization if authenticated else None
            status, answer, retry_after, location = await send(sent)
            if status == 401 and authenticated and credential.uses_login:
                await credential.refresh(transport, stale=sent)
                # A new session may be with another master (the old one's answer was 401): checked before the
                # replay sends anything with it.
                if self._session_check is not None and credential.authorization != self._checked:
                    await self._check_session()
                status, answer, retry_after, location = await send(credential.authorization)
            return status, answer, parse_retry_after(retry_after), location
        except MasterUnavailable as exc:
            # Raised by the credential's login, which is safe to repeat: the original call was not sent.
            failure = "login"
            self._note_unreachable()
            raise _Transient(exc, sent=False) from exc
        except MasterError as exc:
            # Opening the session stopped the call before it was sent: the login or the check's GET
            # /api/v1/master answered an error, or the session check refused the master or could not decide.
            failure = _session_failure(exc)
            raise
        except ConnectFailed as exc:
            failure = "connect"
            self._note_unreachable()
            raise _Transient(MasterUnavailable(f"cannot connect to master: {exc}"), sent=False) from exc
        except AnswerTimeout as exc:
            failure = "timeout"
            self._note_unreachable()
            raise _Transient(MasterUnavailable("master call timed out"), sent=True) from exc
        except ConnectionLost as exc:
            failure = "disconnected"
            self._note_unreachable()
            raise _Transient(MasterUnavailable(f"master connection lost: {exc}"), sent=True) from exc
        except asyncio.CancelledError:
            # The caller stopped waiting (a handler cancelled, the server shutting down, a caller's own time
            # limit): no answer to count, and not the master's failure, so the breaker is not told either.
            failure = "cancelled"
            raise
        except Exception:
            # Anything else is a bug of the bridge's own (something of the master's or of the settings that the
            # code did not expect): a bounded label instead of "None". It says nothing of the master's health,
            # so the breaker is not told, as _attempt tells it only of answers and of the kinds above.
            failure = "error"
            raise
        finally:
            elapsed = self._clock() - started
            # Asked first: the line is below the server's level, and building its fields cost ~1.8 us a call.
            if self._log.is_enabled_for(logging.DEBUG):
                fields: dict[str, Any] = {"failure": failure} if failure else {}
                self._log.debug(
                    "master.call",
                    method=method,
                    path=template,
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                    **fields,
                )
            if self._observer is not None:
                self._observer.observe_master_call(method, template, failure or str(status), elapsed)

    async def _check_session(self) -> None:
        """Run the session check on the master behind the credential's current session, once per session and
        single-flight, before any authenticated call is sent with it; the check raises (MasterMismatch) to
        refuse the master, and then every later call asks again."""
        assert self._session_check is not None
        async with self._check_lock:
            session = self._credential.authorization
            if session == self._checked:
                return
            await self._session_check(await self._master_info_direct())
            self._checked = session

    async def _master_info_direct(self) -> models.MasterInfo:
        """``GET /api/v1/master`` on the transport itself, as the credential's login is sent: the calling
        attempt already holds a limiter slot, and a second one could wait on callers that wait for this."""
        record_call()
        status, answer, retry_after, location = await self._transport.request(
            "GET",
            "/api/v1/master",
            read_timeout=None,
            deadline=asyncio.get_running_loop().time() + self._settings.login_timeout,
            repeatable=True,
        )
        if 300 <= status < 400:
            raise redirect_error(status, location, "/api/v1/master")
        if status != 200:
            raise error_from_response(status, answer, parse_retry_after(retry_after))
        try:
            return models.parse_master_info(models.decode_json(answer))
        except ValueError:
            raise MasterProtocolError("GET /api/v1/master: body is not JSON", http_status=200) from None

    def _note_unreachable(self) -> None:
        self._reached_last_time = False
        self._breaker.record_failure()
