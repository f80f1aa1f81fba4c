"""Intent journal and audit log: lifecycle, atomic finishing with the mapping write, retention."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.store import (
    AuditLine,
    DuplicateUserName,
    IntentNotPending,
    IntentState,
    NotFoundInStore,
    Store,
    UserFields,
)
from tests.store.conftest import ManualClock
from tests.store.factories import add_user, new_id


async def _intent(store: Store, target: str = "bob") -> int:
    return await store.begin_intent(
        request_id="req-1",
        operation="create",
        resource_type="User",
        target=target,
        payload_digest="sha256:ab",
    )


async def test_intent_lifecycle(store: Store, clock: ManualClock) -> None:
    created = clock.now
    first = await _intent(store)
    second = await _intent(store, "carol")
    pending = await store.pending_intents()
    assert [(i.id, i.target, i.state) for i in pending] == [
        (first, "bob", IntentState.PENDING),
        (second, "carol", IntentState.PENDING),
    ]
    assert pending[0].created == created
    assert pending[0].finished is None
    finished_at = clock.advance()
    await store.finish_intent(first, IntentState.DONE)
    await store.finish_intent(first, IntentState.DONE)  # a repeated finish (retry after a crash) is harmless
    await store.finish_intent(second, IntentState.ROLLED_BACK)
    assert await store.pending_intents() == []
    done = await store.get_intent(first)
    assert done is not None
    assert (done.state, done.finished, done.payload_digest) == (IntentState.DONE, finished_at, "sha256:ab")


async def test_finishing_differently_or_unknown_intents_raises(store: Store) -> None:
    intent = await _intent(store)
    await store.finish_intent(intent, IntentState.ROLLED_BACK)
    with pytest.raises(IntentNotPending):
        await store.finish_intent(intent, IntentState.DONE)
    with pytest.raises(NotFoundInStore):
        await store.finish_intent(intent + 100, IntentState.DONE)
    with pytest.raises(ValueError, match="done or rolled_back"):
        await store.finish_intent(intent, IntentState.PENDING)


async def test_mapping_write_and_intent_finish_are_one_transaction(store: Store) -> None:
    intent = await _intent(store)
    user = await store.insert_user(
        scim_id=new_id(),
        det_id=9,
        fields=UserFields(
            user_name="bob", external_id=None, display_name=None, active=True, doc={"userName": "bob"}
        ),
        finishing_intent=intent,
    )
    assert await store.pending_intents() == []
    # A failing write leaves its intent pending for recovery...
    failing = await _intent(store, "BOB")
    with pytest.raises(DuplicateUserName):
        await add_user(store, "BOB", det_id=10)
    with pytest.raises(DuplicateUserName):
        await store.insert_user(
            scim_id=new_id(),
            det_id=10,
            fields=UserFields(user_name="BOB", external_id=None, display_name=None, active=True, doc={}),
            finishing_intent=failing,
        )
    assert [i.id for i in await store.pending_intents()] == [failing]
    # ...and a write whose intent was already resolved elsewhere is rolled back whole.
    await store.finish_intent(failing, IntentState.ROLLED_BACK)
    with pytest.raises(IntentNotPending):
        await store.tombstone_user(user.scim_id, finishing_intent=failing)
    assert await store.get_user_by_scim_id(user.scim_id) == user


async def test_prune_intents_keeps_pending_ones(store: Store, clock: ManualClock) -> None:
    old = await _intent(store)
    keep = await _intent(store)
    await store.finish_intent(old, IntentState.DONE)
    clock.advance(3600)
    assert await store.prune_intents(clock.now - timedelta(minutes=1)) == 1
    assert await store.get_intent(old) is None
    assert [i.id for i in await store.pending_intents()] == [keep]


async def test_audit_append_and_read_back(store: Store, clock: ManualClock) -> None:
    first_at = clock.now
    first = await store.append_audit(
        AuditLine(
            request_id="r1",
            client="okta",
            operation="create",
            resource_type="User",
            resource_id="abc",
            master_calls=2,
            outcome="201",
        )
    )
    clock.advance()
    second = await store.append_audit(
        AuditLine(
            request_id="r2",
            client="entra",
            operation="delete",
            resource_type="Group",
            resource_id=None,
            master_calls=0,
            outcome="404",
        )
    )
    entries = await store.recent_audit()
    assert [e.id for e in entries] == [second, first]
    assert (entries[1].ts, entries[1].client, entries[1].master_calls, entries[1].outcome) == (
        first_at,
        "okta",
        2,
        "201",
    )
    assert entries[0].resource_id is None
    assert await store.prune_audit(clock.now) == 1
    assert [e.id for e in await store.recent_audit()] == [second]


async def test_newer_pending_intent_names_only_pending_newer_intents_of_the_target(store: Store) -> None:
    old = await _intent(store, "bob")
    other = await _intent(store, "carol")
    assert not await store.newer_pending_intent(old, "bob")
    newer = await _intent(store, "bob")
    assert await store.newer_pending_intent(old, "bob")
    assert not await store.newer_pending_intent(newer, "bob")
    assert not await store.newer_pending_intent(other, "carol")
    await store.finish_intent(newer, IntentState.DONE)
    assert not await store.newer_pending_intent(old, "bob")


async def test_each_prune_call_deletes_a_bounded_batch_oldest_first(store: Store, clock: ManualClock) -> None:
    async def intent(state: IntentState | None) -> int:
        made = await store.begin_intent(
            request_id="r", operation="create", resource_type="User", target="t", payload_digest="d"
        )
        if state is not None:
            await store.finish_intent(made, state)
        return made

    finished = [await intent(IntentState.DONE if i % 2 else IntentState.ROLLED_BACK) for i in range(5)]
    pending = await intent(None)
    for i in range(3):
        await store.append_audit(AuditLine(f"r{i}", "okta", "create", "User", None, 1, "ok"))
        clock.advance(1)
    newest = await intent(IntentState.DONE)
    clock.advance(3600)
    before = clock.now
    assert [await store.prune_intents(before, limit=2) for _ in range(4)] == [2, 2, 1, 0]
    assert [await store.get_intent(i) for i in finished] == [None] * 5
    # Pending intents stay, and so does the newest row: a pruned highest id would be handed out again.
    assert [i.id for i in await store.pending_intents()] == [pending]
    assert await store.get_intent(newest) is not None
    assert [await store.prune_audit(before, limit=2) for _ in range(3)] == [2, 1, 0]
    assert await store.recent_audit() == []
