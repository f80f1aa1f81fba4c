"""``scim-bridge bootstrap``: create the bridge's service account and write its access token to a file.

Idempotent, for one-shot jobs that rerun on every deploy: an existing account is reused and a token file
that still authenticates as that account is kept (master-api.md §7.1, §4.17).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bridge.determined.client import DeterminedClient, create_master_client
from bridge.determined.errors import MasterError, MasterUnauthorized, MasterUnavailable
from bridge.determined.models import MasterUser
from bridge.determined.settings import MasterClientSettings

ADMIN_PASSWORD_ENV: Final = "DET_ADMIN_PASSWORD"  # noqa: S105 - the name of a variable, not a secret
MASTER_ENV: Final = "DET_MASTER"
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2


@dataclass(frozen=True, slots=True)
class BootstrapRequest:
    """What to create, where, and with which admin credential."""

    master_url: str
    admin_user: str
    admin_password: str
    account: str
    token_file: Path
    lifespan: str = "-1"
    verify_tls: bool = True
    ca_file: str | None = None
    force_new_token: bool = False
    wait: float = 0.0


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    """What bootstrap did; never holds the token itself."""

    user_id: int
    account_created: bool
    account_repaired: bool
    token_minted: bool
    token_id: int | None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``scim-bridge bootstrap``; the admin password comes only from a file or the environment."""
    parser.add_argument("--master-url", default=os.environ.get(MASTER_ENV), help=f"default: ${MASTER_ENV}")
    parser.add_argument("--admin-user", default="admin", help="an admin of the master (default: admin)")
    parser.add_argument(
        "--admin-password-file", help=f"file holding the admin password (default: ${ADMIN_PASSWORD_ENV})"
    )
    parser.add_argument(
        "--account", default="scim-bridge", help="service account name (default: scim-bridge)"
    )
    parser.add_argument("--token-file", required=True, help="where to write the access token (mode 0600)")
    parser.add_argument("--lifespan", default="-1", help='Go duration, or "-1" for the master maximum')
    parser.add_argument("--ca-file", help="CA bundle for the master's TLS certificate")
    parser.add_argument("--insecure", action="store_true", help="do not verify the master's certificate")
    parser.add_argument(
        "--force-new-token", action="store_true", help="mint a new token even if the file's token works"
    )
    parser.add_argument(
        "--wait", type=float, default=0.0, help="seconds to wait for the master to answer (default: 0)"
    )


def _client_settings(request: BootstrapRequest, *, token: str | None) -> MasterClientSettings:
    return MasterClientSettings(
        url=request.master_url,
        token=token,
        username=None if token else request.admin_user,
        password=None if token else request.admin_password,
        connect_timeout=5.0,
        request_timeout=30.0,
        # Logins and local-user creation run bcrypt at cost 15 (master-api.md §7.3 item 6).
        login_timeout=60.0,
        verify_tls=request.verify_tls,
        ca_file=request.ca_file,
        retries=3,
    )


def _read_token(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def write_secret_file(path: Path, secret: str) -> None:
    """Write ``secret`` to ``path`` with mode 0600, atomically: readers never see a partial token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


async def _token_still_valid(request: BootstrapRequest, user: MasterUser) -> bool:
    token = _read_token(request.token_file)
    if token is None:
        return False
    client = create_master_client(_client_settings(request, token=token))
    try:
        me = await client.me()
    except MasterUnauthorized:
        return False
    finally:
        await client.close()
    return me.id == user.id


async def _wait_for_master(client: DeterminedClient, seconds: float) -> None:
    """Poll the unauthenticated ``GET /api/v1/master`` until it answers: the master may still be starting."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await client.ping():
        if loop.time() >= deadline:
            raise MasterUnavailable(f"master did not answer within {seconds:g} s")
        await asyncio.sleep(min(2.0, max(0.0, deadline - loop.time())))


async def bootstrap(request: BootstrapRequest) -> BootstrapResult:
    """Ensure the account exists, is active and admin; ensure the token file holds a working token."""
    client = create_master_client(_client_settings(request, token=None))
    try:
        if request.wait > 0:
            await _wait_for_master(client, request.wait)
        user = await client.get_user_by_username(request.account)
        created = repaired = False
        if user is None:
            # A local account needs a password (else blank-password login, §4.7); nobody is told this one.
            user = await client.create_user(
                request.account,
                display_name="",
                active=True,
                admin=True,
                remote=False,
                password=secrets.token_urlsafe(32),
            )
            created = True
        elif user.remote:
            raise ValueError(f"account {request.account!r} is a remote (SSO) user; choose another --account")
        elif not (user.active and user.admin):
            user = await client.patch_user(user.id, active=True, admin=True)
            repaired = True
        if not request.force_new_token and await _token_still_valid(request, user):
            return BootstrapResult(user.id, created, repaired, False, None)
        minted = await client.create_token(user.id, request.lifespan, description="scim-bridge")
        write_secret_file(request.token_file, minted.token)
        return BootstrapResult(user.id, created, repaired, True, minted.token_id)
    finally:
        await client.close()


def request_from_args(args: argparse.Namespace) -> BootstrapRequest | str:
    """The request described by the flags and environment, or a usage problem."""
    if not args.master_url:
        return f"--master-url or ${MASTER_ENV} is required"
    if args.admin_password_file:
        password = _read_token(Path(args.admin_password_file))
        if password is None:
            return f"cannot read {args.admin_password_file}"
    else:
        password = os.environ.get(ADMIN_PASSWORD_ENV, "")
    return BootstrapRequest(
        master_url=args.master_url,
        admin_user=args.admin_user,
        admin_password=password,
        account=args.account,
        token_file=Path(args.token_file),
        lifespan=args.lifespan,
        verify_tls=not args.insecure,
        ca_file=args.ca_file,
        force_new_token=args.force_new_token,
        wait=args.wait,
    )


async def run_bootstrap(args: argparse.Namespace) -> int:
    """The command: print what was done (never the token), exit 1 on any master error."""
    request = request_from_args(args)
    if isinstance(request, str):
        print(f"bootstrap: {request}", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = await bootstrap(request)
    except (MasterError, ValueError) as exc:
        print(f"bootstrap failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    state = (
        "created"
        if result.account_created
        else "re-activated as admin"
        if result.account_repaired
        else "exists"
    )
    print(f"service account {request.account!r} (id {result.user_id}): {state}")
    if result.token_minted:
        print(f"access token {result.token_id} minted and written to {request.token_file} (mode 0600)")
    else:
        print(f"access token in {request.token_file} still authenticates as {request.account!r}; kept")
    return 0
