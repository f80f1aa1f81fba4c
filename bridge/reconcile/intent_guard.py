"""Which pending intents would retire a mapping if resolved, so the retirement guard decides before any is.

Completing a user DELETE whose Determined user the master says it lacks tombstones the mapping: a retirement,
as a repair pass's user.missing repair is. A wrong but healthy master (an old backup, a staging master, a reset
database) lacks every mapped user, so a journal full of such deletes (a bridge that died during an outage and
restarts pointed at it) would retire them all in the background, past the bound a pass is held to
(bridge/reconcile/guard.py, docs/reliability.md "Stale mappings"). Likewise rolling back a group PATCH or PUT
restores the group on the master, re-creating it if the master lacks it: against that master, a journal of
group updates would write the IdP's groups into it; and completing a group DELETE the master shows done forgets
the mapping, as that master shows of every group. All are counted before anything is resolved. Reading is all
this module does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bridge.determined import DeterminedClient, MasterError
from bridge.provisioning.stale import missing_users
from bridge.reconcile.detect import master_group
from bridge.reconcile.guard import GROUPS, RetireGuard, RetireRefusal
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


@dataclass(frozen=True, slots=True)
class GroupCount:
    """What the group intents of a run would do to mapped groups the master lacks, from one GET per group.

    ``retiring``: DELETE intents whose completion would forget a mapping (intent id to the group's SCIM id).
    ``recreating``: PATCH/PUT intents whose restore would re-create the group (its group.deleted repair).
    ``unread``: the groups whose GET failed (SCIM id to the error's class name): their intents wait for the next
    run, counted then, and the rest of the run goes on without them.
    ``forgotten``: the counted groups whose newest counted intent is a DELETE. Resolution goes newest first, so
    that intent decides: its completion forgets the mapping and an older PATCH then finds nothing to restore,
    while a newer PATCH re-creates the group and an older DELETE then finds it there and is rolled back.
    """

    retiring: dict[int, str] = field(default_factory=dict)
    recreating: dict[int, str] = field(default_factory=dict)
    unread: dict[str, str] = field(default_factory=dict)
    forgotten: set[str] = field(default_factory=set)

    def gone(self) -> dict[int, str]:
        """Every counted intent, for the guard: each group once whichever of the two its intents would do."""
        return {**self.retiring, **self.recreating}


async def group_intents(
    store: Store, client: DeterminedClient, intents: Sequence[IntentRecord]
) -> GroupCount:
    """Count the group intents among `intents` whose resolution would retire (a DELETE the master shows done:
    the mapping is forgotten) or re-create (a PATCH/PUT's restore) a mapped group the master lacks.

    A DELETE that landed and a wrong master's empty database look the same (the group is gone), so a DELETE is
    counted as a user DELETE of a user the master lacks is: a pass would refuse to re-create those groups, and a
    run must not forget them past the same bound. Only the master's own "no such group" counts (detect.
    master_group); a group whose GET fails is left out with its intents (`unread`). A create touches no mapped
    group. One GET per distinct group, as a pass's sweep asks.
    """
    count = GroupCount()
    gone: dict[str, bool] = {}
    decided: set[str] = set()
    for intent in intents:
        if intent.resource_type != "Group" or intent.operation == "create":
            continue
        if intent.target not in gone and intent.target not in count.unread:
            group = await store.get_group_by_scim_id(intent.target)
            try:
                gone[intent.target] = group is not None and await master_group(client, group.det_id) is None
            except MasterError as exc:
                count.unread[intent.target] = type(exc).__name__
        if gone.get(intent.target):
            counted = count.retiring if intent.operation == "delete" else count.recreating
            counted[intent.id] = intent.target
            if intent.target not in decided:  # `intents` come newest first: this one decides (see GroupCount)
                decided.add(intent.target)
                if intent.operation == "delete":
                    count.forgotten.add(intent.target)
    return count


async def intent_refusal(
    guard: RetireGuard, store: Store, retiring: Mapping[int, str], groups: GroupCount
) -> RetireRefusal | None:
    """The guard's decision on these user retirements and the group retirements and re-creations
    (GroupCount.gone), counted as a pass counts them: each mapping once (a retried DELETE or PATCH journals
    several intents for one object), against the live mapped users, and the mapped groups. A refusal for groups
    says how many of them the run would forget rather than re-create."""
    users = len(set(retiring.values()))
    gone = len(set(groups.gone().values()))
    if users == 0 and gone == 0:
        return None
    mapped_users, _page = await store.list_users("1=1", [], limit=0)
    mapped_groups, _groups = await store.list_groups("1=1", [], limit=0)
    refusal = guard.first_refusal((users, mapped_users), (gone, mapped_groups))
    if refusal is not None and refusal.resource == GROUPS:
        refusal = dataclasses.replace(refusal, forgotten=len(groups.forgotten))
    return refusal
