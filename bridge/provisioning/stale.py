"""Telling a stale mapping from a failed write: which mapped Determined users the master no longer has.

A mapping goes stale when its Determined user vanishes (a restored or foreign master database); reconcile
reports it as user.missing. Writes naming such a user fail on the master with a 404 or a bare 500 that names
no one, so after such a failure (never on the success path) the bridge asks the master for each user.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bridge.determined import DeterminedClient, MasterError, MasterNotFound

# The `kind` of every log line and audit outcome about a stale mapping: reconcile's drift kind
# (DriftKind.USER_MISSING is this value), so one alert covers both.
USER_MISSING: Final = "user.missing"


async def missing_users(master: DeterminedClient, det_ids: Sequence[int]) -> frozenset[int]:
    """The ids in `det_ids` the master answers 404 for; none when a probe itself fails (the write's own
    failure is then the better answer). One GET per id: O(len(det_ids)), on failure paths only."""
    missing: list[int] = []
    try:
        for det_id in det_ids:
            try:
                await master.get_user(det_id)
            except MasterNotFound:
                missing.append(det_id)
    except MasterError:
        return frozenset()
    return frozenset(missing)
