"""Which pending intents would retire a mapping if resolved, so the retirement guard decides before any is.

Completing a user DELETE whose Determined user the master says it lacks tombstones the mapping: a retirement,
as a repair pass's user.missing repair is. A wrong but healthy master (an old backup, a staging master, a reset
database) lacks every mapped user, so a journal full of such deletes (a bridge that died during an outage and
restarts pointed at it) would retire them all in the background, past the bound a pass is held to
(bridge/reconcile/guard.py, docs/reliability.md "Stale mappings"). Reading is all this module does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bridge.determined import DeterminedClient
from bridge.provisioning.stale import missing_users
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


async def intent_refusal(
    guard: RetireGuard, store: Store, retiring: Mapping[int, str]
) -> RetireRefusal | None:
    """The guard's decision on these retirements, counted as a pass counts them: each mapping once (a retried
    DELETE journals several intents for one user), against the live mapped users."""
    missing = len(set(retiring.values()))
    if missing == 0:
        return None
    mapped, _page = await store.list_users("1=1", [], limit=0)
    return guard.refusal(missing, mapped)
