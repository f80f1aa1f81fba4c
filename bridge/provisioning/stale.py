"""Stale mappings: which mapped Determined users the master no longer has, and retiring such a mapping.

A mapping goes stale when its Determined user vanishes (a restored or foreign master database); reconcile
reports it as user.missing. Writes naming such a user fail on the master with a 404 or a bare 500 that names
no one, so after such a failure (never on the success path) the bridge asks the master about those users.
Whoever finds one (a user write, a group write adding it, `reconcile --repair`) retires it the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Final

import structlog

from bridge.determined import DeterminedClient, MasterError, MasterNotFound
from bridge.store import NotFoundInStore, Store

# The `kind` of every log line and audit outcome about a stale mapping: reconcile's drift kind
# (DriftKind.USER_MISSING is this value), so one alert covers both.
USER_MISSING: Final = "user.missing"

# Up to this many users are asked about with one GET each; more take one listing of every user. The master
# pages GET /api/v1/users in memory (master-api.md §1.6), so a listing costs it O(directory) whatever the
# page size, and a GET is the cheaper probe for a few users; but a write naming thousands (a group created
# with its members) must not make thousands of calls before the IdP hears back.
PROBE_GETS: Final = 16
_log = structlog.get_logger("bridge.provisioning")


async def missing_users(master: DeterminedClient, det_ids: Sequence[int]) -> frozenset[int]:
    """The ids in `det_ids` the master does not have; none when a probe itself fails (the write's own failure
    is then the better answer, and nothing is retired on a guess). At most PROBE_GETS GETs, else one
    listing: on failure paths only."""
    wanted = list(dict.fromkeys(det_ids))
    missing: list[int] = []
    try:
        if len(wanted) > PROBE_GETS:
            present = {user.id for user in (await master.list_users(limit=0)).users}
            return frozenset(det_id for det_id in wanted if det_id not in present)
        for det_id in wanted:
            # A proxy's 404 for one user says nothing about it; the others are still asked about.
            with contextlib.suppress(MasterNotFound):
                if await user_missing(master, det_id):
                    missing.append(det_id)
    except MasterError:
        return frozenset()
    return frozenset(missing)


async def user_missing(master: DeterminedClient, det_id: int) -> bool:
    """Whether the master answers its own "no such user" for `det_id` (one GET); any other failure of that GET,
    a proxy's 404 included, is raised: it says nothing about the user, and reading it as "gone" would retire a
    mapping whose user the master still has."""
    try:
        await master.get_user(det_id)
    except MasterNotFound as err:
        if err.is_unknown_user():
            return True
        raise
    return False


async def retire(store: Store, scim_id: str, det_id: int, *, operation: str, **context: object) -> bool:
    """Tombstone the live mapping `scim_id` if it still maps Determined user `det_id`, which the master no
    longer has, as DELETE does; False when it is no longer live or now maps another user (a write or
    another retirement got there first).

    The tombstone keeps the Determined id and the SCIM attributes, so nothing is lost: the IdP's re-create of
    the userName relinks that Determined user if the master gets it back, else provisions a new one. The
    master holds no membership of a user it lacks, so leaving every group in the store makes both sides
    agree. Logged as user.missing_on_master (warning) with the groups it left and what found it (`context`).
    """
    record = await store.get_user_by_scim_id(scim_id)
    if record is None or record.det_id != det_id:
        return False
    groups = [g.scim_id for g in await store.groups_of_member(scim_id)]
    try:
        await store.tombstone_user(scim_id)
    except NotFoundInStore:
        return False
    _log.warning(
        "user.missing_on_master",
        kind=USER_MISSING,
        scim_id=scim_id,
        det_id=det_id,
        operation=operation,
        groups=groups,
        **context,
    )
    return True
