"""Keeps the bridge's database to the master it belongs to (the client's session check, migration 0003).

The mapping holds Determined ids, and another master numbers its own users and groups from the same start: a
bridge pointed at a fresh cluster (a wrong ``master.url``, a DNS change, a failover to another installation)
would otherwise deactivate, rename or add to groups whatever accounts sit under the mapped ids there. The
master's ``clusterId`` names the installation: the master keeps it in its own database, so a master restored
from a backup still has it. The first master a database meets binds it; a session with any other cluster is
refused before anything is sent with it, until an operator points the bridge back or rebinds the database
(``scim-bridge db rebind-master``).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from bridge.determined import (
    DeterminedClient,
    MasterError,
    MasterInfo,
    MasterMismatch,
    MasterUnavailable,
    MasterUnverified,
)
from bridge.store import Store, StoreError, StoreUnavailable

_log = structlog.get_logger("bridge.master")
REBIND_HINT = "if the bridge should now manage this cluster, run `scim-bridge db rebind-master`"


class MasterBinding:
    """The session check (``DeterminedClient(session_check=...)``) against the store's bound master."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # Serialises the start-up announcement and the first session's check, which meet an unbound database
        # together: one binds it and logs master.bound, the other finds it bound.
        self._lock = asyncio.Lock()
        self._reported: tuple[str, str] | None = None
        self._warned_anonymous = False
        self.problem: str | None = None
        """Why the last master seen was refused (for /readyz), None once one passed."""

    async def __call__(self, info: MasterInfo) -> None:
        async with self._lock:
            await self._check(info)

    async def _check(self, info: MasterInfo) -> None:
        if not info.cluster_id:
            # A master that names no cluster cannot be told from another: accepted, and said once.
            if not self._warned_anonymous:
                _log.warning("master.cluster_id_missing", master_version=info.version)
                self._warned_anonymous = True
            self.problem = None
            return
        try:
            bound = await self._store.bound_master()
            if bound is None:
                bound = await self._store.bind_master(info.cluster_id, info.cluster_name)
                if bound.cluster_id == info.cluster_id:
                    _log.info("master.bound", cluster_id=info.cluster_id, cluster_name=info.cluster_name)
        except StoreError as exc:
            # Unknown is not accepted, but it is the database's failure, not the master's: the client must not
            # retry it or count it toward its circuit breaker (MasterUnavailable would be both).
            _log.warning("master.binding_unreadable", error=type(exc).__name__)
            raise MasterUnverified(
                f"cannot read or record the master binding: {type(exc).__name__}",
                transient=isinstance(exc, StoreUnavailable),
            ) from exc
        if bound.cluster_id == info.cluster_id:
            self.problem = None
            self._reported = None
            return
        self.problem = (
            f"the master is cluster {info.cluster_id!r} ({info.cluster_name}); this database belongs to "
            f"cluster {bound.cluster_id!r} ({bound.cluster_name})"
        )
        # Every refused call asks again (an operator may rebind meanwhile); the error is logged once per pair.
        if self._reported != (bound.cluster_id, info.cluster_id):
            self._reported = (bound.cluster_id, info.cluster_id)
            _log.error(
                "master.identity_mismatch",
                bound_cluster_id=bound.cluster_id,
                bound_cluster_name=bound.cluster_name,
                bound_at=bound.bound_at,
                master_cluster_id=info.cluster_id,
                master_cluster_name=info.cluster_name,
                hint=REBIND_HINT,
            )
        raise MasterMismatch(bound.cluster_id, info.cluster_id)


async def announce(binding: MasterBinding, client: DeterminedClient) -> None:
    """Check the master ``client`` reaches against the binding once, at start-up: a wrong master is then logged
    (and reported by /readyz) before the IdP's first write meets it. It is the check of the client's first
    session (``binding`` is its session check), opened now, so that write does not ask the master again; a
    session the master refuses to open (another installation does not know the bridge's login) is no reason
    to leave a wrong master unreported, so the master is then identified without one. Neither touches the
    client's retry and breaker state; every later session is still checked as it opens."""
    try:
        await client.open_session()
    except (MasterMismatch, MasterUnverified, MasterUnavailable):
        return  # the check decided, or said why it could not; or nothing answers to identify
    except MasterError:
        with contextlib.suppress(MasterError):
            await binding(await client.identify())
