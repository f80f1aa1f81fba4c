"""Telling a stale mapping from a failed write: which mapped Determined users the master no longer has.

A mapping goes stale when its Determined user vanishes (a restored or foreign master database); reconcile
reports it as user.missing. Writes naming such a user fail on the master with a 404 or a bare 500 that names
no one, so after such a failure (never on the success path) the bridge asks the master about those users.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bridge.determined import DeterminedClient, MasterError, MasterNotFound

# The `kind` of every log line and audit outcome about a stale mapping: reconcile's drift kind
# (DriftKind.USER_MISSING is this value), so one alert covers both.
USER_MISSING: Final = "user.missing"

# Up to this many users are asked about with one GET each; more take one listing of every user. The master
# pages GET /api/v1/users in memory (master-api.md §1.6), so a listing costs it O(directory) whatever the
# page size, and a GET is the cheaper probe for a few users; but a write naming thousands (a group created
# with its members) must not make thousands of calls before the IdP hears back.
PROBE_GETS: Final = 16


async def missing_users(master: DeterminedClient, det_ids: Sequence[int]) -> frozenset[int]:
    """The ids in `det_ids` the master does not have; none when a probe itself fails (the write's own failure
    is then the better answer). At most PROBE_GETS GETs, else one listing: on failure paths only."""
    wanted = list(dict.fromkeys(det_ids))
    missing: list[int] = []
    try:
        if len(wanted) > PROBE_GETS:
            present = {user.id for user in (await master.list_users(limit=0)).users}
            return frozenset(det_id for det_id in wanted if det_id not in present)
        for det_id in wanted:
            try:
                await master.get_user(det_id)
            except MasterNotFound:
                missing.append(det_id)
    except MasterError:
        return frozenset()
    return frozenset(missing)
