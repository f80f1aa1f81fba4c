"""Which pending intents would retire a mapping if resolved, so the retirement guard decides before any is.

Completing a user DELETE whose Determined user the master says it lacks tombstones the mapping: a retirement,
as a repair pass's user.missing repair is. A wrong but healthy master (an old backup, a staging master, a reset
database) lacks every mapped user, so a journal full of such deletes (a bridge that died during an outage and
restarts pointed at it) would retire them all in the background, past the bound a pass is held to
(bridge/reconcile/guard.py, docs/reliability.md "Stale mappings"). Likewise rolling back a group PATCH or PUT
restores the group on the master, re-creating it if the master lacks it: against that master, a journal of
group updates would write the IdP's groups into it. Both are counted before anything is resolved. Reading is
all this module does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bridge.determined import DeterminedClient
from bridge.provisioning.stale import missing_users
from bridge.reconcile.detect import master_group
from bridge.reconcile.guard import RetireGuard, RetireRefusal
from bridge.store import IntentRecord, Store


async def retiring_intents(
    store: Store, client: DeterminedClient, intents: Sequence[IntentRecord]
) -> dict[int, str]:
    """The user DELETE intents among `intents` whose resolution would retire a live mapping: intent id to the
    mapping's SCIM id.

    Only the master's own "user not found" counts (stale.missing_users: at most 16 GETs, else one listing; a
    failing master or a proxy's 404 counts nothing, and resolution then defers those intents rather than retire
    them uncounted). A delete the master shows as an inactive user is a delete that landed, not a retirement.
    """
    mapped: dict[int, tuple[str, int]] = {}
    for intent in intents:
        if intent.operation != "delete" or intent.resource_type != "User":
            continue
        record = await store.get_user_by_scim_id(intent.target)
        if record is not None:
            mapped[intent.id] = (record.scim_id, record.det_id)
    if not mapped:
        return {}
    gone = await missing_users(client, [det_id for _scim_id, det_id in mapped.values()])
    return {intent_id: scim_id for intent_id, (scim_id, det_id) in mapped.items() if det_id in gone}


# Group operations whose resolution never restores the group: a create maps or rolls back, a delete the master
# shows done only forgets the mapping (and one it does not show leaves the group there, nothing to re-create).
_NOT_RESTORING = frozenset({"create", "delete"})


async def recreating_intents(
    store: Store, client: DeterminedClient, intents: Sequence[IntentRecord]
) -> dict[int, str]:
    """The group intents among `intents` whose resolution would re-create a mapped group the master lacks
    (its restore's group.deleted repair): intent id to the group's SCIM id. One GET per distinct group, as a
    pass's sweep asks; a failing master raises, and the run is deferred."""
    targets: dict[str, bool] = {}
    found: dict[int, str] = {}
    for intent in intents:
        if intent.resource_type != "Group" or intent.operation in _NOT_RESTORING:
            continue
        if intent.target not in targets:
            group = await store.get_group_by_scim_id(intent.target)
            targets[intent.target] = group is not None and await master_group(client, group.det_id) is None
        if targets[intent.target]:
            found[intent.id] = intent.target
    return found


async def intent_refusal(
    guard: RetireGuard, store: Store, retiring: Mapping[int, str], recreating: Mapping[int, str]
) -> RetireRefusal | None:
    """The guard's decision on these retirements and group re-creations, counted as a pass counts them: each
    mapping once (a retried DELETE or PATCH journals several intents for one object), against the live mapped
    users, and the mapped groups."""
    users = len(set(retiring.values()))
    groups = len(set(recreating.values()))
    if users == 0 and groups == 0:
        return None
    mapped_users, _page = await store.list_users("1=1", [], limit=0)
    mapped_groups, _groups = await store.list_groups("1=1", [], limit=0)
    return guard.first_refusal((users, mapped_users), (groups, mapped_groups))
