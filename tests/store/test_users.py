"""Users: lookups, case-insensitive userName uniqueness, versions, tombstones and re-linking."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bridge.store import (
    DuplicateDeterminedId,
    DuplicateScimId,
    DuplicateUserName,
    InvalidDocument,
    NotFoundInStore,
    Store,
    UserFields,
    UserGroup,
    UserRecord,
    UserRef,
    VersionConflict,
    user_groups,
    user_writes,
)
from bridge.store.codec import format_ts
from bridge.store.connections import WriterConnection
from tests.store.conftest import ManualClock
from tests.store.factories import add_group, add_user, new_id, view_of


async def test_insert_then_get_by_every_key(store: Store, clock: ManualClock) -> None:
    user = await add_user(store, "Alice", external_id="ext-1", display_name="Alice A", det_id=7)
    assert user.version == 1
    assert user.created == format_ts(clock.now)
    assert user.last_modified == format_ts(clock.now)
    assert user.tombstoned_at is None
    assert await store.get_user_by_scim_id(user.scim_id) == user
    assert await store.get_user_by_det_id(7) == user
    assert await store.get_users_by_external_id("ext-1") == [user]
    assert await store.get_user_by_scim_id(new_id()) is None


async def test_user_name_lookup_and_uniqueness_ignore_case(store: Store) -> None:
    user = await add_user(store, "Alice")
    assert await store.get_user_by_user_name("aLICE") == user
    with pytest.raises(DuplicateUserName):
        await add_user(store, "ALICE")
    assert (await store.list_users("1=1", [], limit=10))[0] == 1


async def test_user_name_live_says_live_tombstoned_or_free_ignoring_case(store: Store) -> None:
    live = await add_user(store, "Alice")
    gone = await add_user(store, "Bob")
    await store.tombstone_user(gone.scim_id)
    assert await store.user_name_live("aLICE") is True
    assert await store.user_name_live("BOB") is False
    assert await store.user_name_live("carol") is None
    # The same answer as the whole read it stands in for.
    assert (await store.get_user_by_user_name("aLICE", include_tombstoned=True)) == live


async def test_duplicate_det_id_and_scim_id_are_refused(store: Store) -> None:
    user = await add_user(store, "a", det_id=42)
    with pytest.raises(DuplicateDeterminedId):
        await add_user(store, "b", det_id=42)
    with pytest.raises(DuplicateScimId):
        await store.insert_user(
            scim_id=user.scim_id,
            det_id=43,
            fields=UserFields(
                user_name="c", external_id=None, display_name=None, active=True, doc={"userName": "c"}
            ),
        )


@pytest.mark.parametrize("key", ["password", "Password", "id", "meta"])
async def test_documents_never_hold_password_id_or_meta(store: Store, key: str) -> None:
    with pytest.raises(InvalidDocument, match=key):
        await store.insert_user(
            scim_id=new_id(),
            det_id=5,
            fields=UserFields(
                user_name="a",
                external_id=None,
                display_name=None,
                active=True,
                doc={"userName": "a", key: "x"},
            ),
        )
    assert await store.get_user_by_user_name("a") is None


async def test_update_bumps_version_and_last_modified(store: Store, clock: ManualClock) -> None:
    user = await add_user(store, "bob", emails=[{"value": "b@x.org"}])
    later = clock.advance(5)
    updated = await store.update_user(
        user.scim_id,
        fields=UserFields(
            user_name="Bobby",
            external_id="e",
            display_name="Bob B",
            active=False,
            doc={"userName": "Bobby", "emails": [{"value": "bobby@x.org", "primary": True}]},
        ),
        expected_version=1,
    )
    assert updated.version == 2
    assert updated.created == user.created
    assert updated.last_modified == format_ts(later)
    assert (updated.user_name, updated.external_id, updated.display_name, updated.active) == (
        "Bobby",
        "e",
        "Bob B",
        False,
    )
    assert await store.get_user_by_user_name("bob") is None
    total, _ = await store.list_users(
        "EXISTS (SELECT 1 FROM user_emails e WHERE e.user_pk = u.pk AND e.value = ? COLLATE NOCASE)",
        ["BOBBY@X.ORG"],
        limit=10,
    )
    assert total == 1
    total, _ = await store.list_users(
        "EXISTS (SELECT 1 FROM user_emails e WHERE e.user_pk = u.pk AND e.value = ?)", ["b@x.org"], limit=10
    )
    assert total == 0


async def test_update_with_stale_version_conflicts_and_changes_nothing(store: Store) -> None:
    user = await add_user(store, "carol")
    await store.update_user(
        user.scim_id,
        fields=UserFields(
            user_name="carol", external_id=None, display_name="C", active=True, doc={"userName": "carol"}
        ),
    )
    with pytest.raises(VersionConflict) as caught:
        await store.update_user(
            user.scim_id,
            fields=UserFields(
                user_name="carol",
                external_id=None,
                display_name="stale",
                active=True,
                doc={"userName": "carol"},
            ),
            expected_version=1,
        )
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    current = await store.get_user_by_scim_id(user.scim_id)
    assert current is not None
    assert current.display_name == "C"


async def test_rename_onto_a_taken_user_name_is_refused(store: Store) -> None:
    await add_user(store, "dave")
    erin = await add_user(store, "erin")
    with pytest.raises(DuplicateUserName):
        await store.update_user(
            erin.scim_id,
            fields=UserFields(user_name="DAVE", external_id=None, display_name=None, active=True, doc={}),
        )


async def test_update_of_unknown_user_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundInStore):
        await store.update_user(
            new_id(),
            fields=UserFields(user_name="x", external_id=None, display_name=None, active=True, doc={}),
        )


async def test_tombstone_hides_user_and_removes_memberships(store: Store, clock: ManualClock) -> None:
    user = await add_user(store, "frank")
    group = await add_group(store, "devs", [user.scim_id])
    joined = await store.get_user_by_scim_id(user.scim_id)
    assert joined is not None
    assert (joined.version, [g.display_name for g in joined.groups]) == (2, ["devs"])  # its groups changed
    gone_at = clock.advance()
    tomb = await store.tombstone_user(user.scim_id)
    assert tomb.tombstoned_at == gone_at
    assert tomb.active is False
    assert tomb.version == 3
    assert await store.get_user_by_scim_id(user.scim_id) is None
    assert await store.get_user_by_user_name("frank") is None
    assert await store.get_user_by_det_id(user.det_id) is None
    assert await store.get_user_by_scim_id(user.scim_id, include_tombstoned=True) == tomb
    assert await store.list_users("1=1", [], limit=10) == (0, [])
    assert await store.list_members(group.scim_id) == []
    regrouped = await store.get_group_by_scim_id(group.scim_id)
    assert regrouped is not None
    assert regrouped.version == 2
    with pytest.raises(NotFoundInStore):
        await store.tombstone_user(user.scim_id)
    # The Determined user still holds the name, so a second mapping for it must not appear.
    with pytest.raises(DuplicateUserName):
        await add_user(store, "FRANK")


async def test_relink_revives_the_same_determined_user(store: Store, clock: ManualClock) -> None:
    user = await add_user(store, "gina", det_id=77)
    await store.tombstone_user(user.scim_id)
    back_at = clock.advance(60)
    fresh_id = new_id()
    revived = await store.relink_user(
        user.scim_id,
        new_scim_id=fresh_id,
        fields=UserFields(
            user_name="Gina",
            external_id="okta-9",
            display_name="Gina G",
            active=True,
            doc={"userName": "Gina", "emails": [{"value": "g@x.org"}]},
        ),
    )
    assert revived.scim_id == fresh_id
    assert revived.det_id == 77
    assert revived.tombstoned_at is None
    assert revived.created == format_ts(back_at)
    assert revived.version == 3
    assert await store.get_user_by_user_name("gina") == revived
    assert await store.get_user_by_scim_id(user.scim_id, include_tombstoned=True) is None
    assert await store.check() == []


async def test_relink_needs_a_tombstoned_user(store: Store) -> None:
    user = await add_user(store, "hal")
    with pytest.raises(NotFoundInStore):
        await store.relink_user(
            user.scim_id,
            fields=UserFields(user_name="hal", external_id=None, display_name=None, active=True, doc={}),
        )


async def test_forget_tombstone_frees_the_user_name_and_det_id_of_a_tombstoned_user_only(
    store: Store,
) -> None:
    live = await add_user(store, "ida", emails=[{"value": "ida@example.com"}])
    with pytest.raises(NotFoundInStore):
        await store.forget_tombstone(live.scim_id)
    assert await store.get_user_by_scim_id(live.scim_id) == live
    await store.tombstone_user(live.scim_id)
    await store.forget_tombstone(live.scim_id)
    assert await store.get_user_by_scim_id(live.scim_id, include_tombstoned=True) is None
    again = await add_user(store, "ida", det_id=live.det_id)
    assert again.scim_id != live.scim_id
    assert await store.check() == []


async def test_records_are_frozen(store: Store) -> None:
    user = await add_user(store, "ivy")
    with pytest.raises(AttributeError):
        user.user_name = "x"  # type: ignore[misc]


async def test_all_users_includes_tombstones_unless_told(store: Store) -> None:
    kept = await add_user(store, "kept")
    gone = await add_user(store, "gone")
    tomb = await store.tombstone_user(gone.scim_id)
    assert await store.all_users() == [kept, tomb]
    assert await store.all_users(include_tombstoned=False) == [kept]


async def test_user_refs_name_the_asked_users_that_exist_tombstoned_ones_only_if_asked(store: Store) -> None:
    kept = await add_user(store, "Kept")
    gone = await add_user(store, "gone")
    await store.tombstone_user(gone.scim_id)
    group = await add_group(store, "not-a-user")
    asked = [kept.scim_id, gone.scim_id, group.scim_id, new_id(), kept.scim_id.upper()]
    assert await store.get_user_refs(asked) == {kept.scim_id: UserRef(kept.det_id, "Kept")}
    assert await store.get_user_refs(asked, include_tombstoned=True) == {
        kept.scim_id: UserRef(kept.det_id, "Kept"),
        gone.scim_id: UserRef(gone.det_id, "gone", live=False),
    }
    assert await store.get_user_refs([]) == {}


async def test_only_email_objects_become_rows(store: Store) -> None:
    user = await add_user(store, "jo", emails=[{"value": "j@x.org", "primary": True}, "not-an-object"])
    total, _ = await store.list_users(
        "EXISTS (SELECT 1 FROM user_emails e WHERE e.user_pk = u.pk AND e.is_primary = 1)", [], limit=0
    )
    assert total == 1
    assert await store.check() == []
    assert user.doc["emails"] == [{"value": "j@x.org", "primary": True}, "not-an-object"]


async def test_a_conditional_read_answers_the_version_the_new_state_or_nothing(store: Store) -> None:
    ada = await add_user(store, "ada")
    assert await store.get_live_user_unless(ada.scim_id, ada.version) == ada.version
    assert await store.get_live_user_unless("no-such-id", ada.version) is None
    assert await store.get_live_user_unless("no-such-id", None) is None
    updated = await store.update_user(
        ada.scim_id,
        fields=UserFields(user_name="ada", external_id="x", display_name=None, active=True, doc={}),
    )
    # The version the caller kept is stale: it gets the whole user as it is now.
    assert await store.get_live_user_unless(ada.scim_id, ada.version) == view_of(updated)
    await store.tombstone_user(ada.scim_id)
    assert await store.get_live_user_unless(ada.scim_id, updated.version) is None
    assert await store.get_live_user_unless(ada.scim_id, None) is None


async def test_documents_read_back_exactly_whatever_their_numbers_and_strings(store: Store) -> None:
    # decode_doc parses with orjson and falls back to json where orjson would read a different value
    # (integers beyond 64 bits, which it turns into floats) or refuses what json reads
    doc: dict[str, object] = {
        "userName": "n",
        "big": 2**70,
        "negative": -(2**63) - 1,
        "edge": 2**63 - 1,
        "float": 1.5e-7,
        "digits": "12345678901234567890",
        "text": 'é ☃ \U0001f600 \\ " \n',
        "nested": [{"a": [1, None, True, {}]}, []],
    }
    small = {k: v for k, v in doc.items() if k not in ("big", "negative", "digits")}
    for n, variant in enumerate((doc, small)):
        user = await store.insert_user(
            scim_id=new_id(),
            det_id=1000 + n,
            fields=UserFields(
                user_name=f"n{n}", external_id=None, display_name=None, active=True, doc=variant
            ),
        )
        read = await store.get_user_by_scim_id(user.scim_id)
        assert read is not None
        assert read.doc == variant
        assert [type(v) for v in read.doc.values()] == [type(v) for v in variant.values()]


def _updates_of(db_path: Path, scim_id: str, fields: UserFields) -> list[str]:
    """The UPDATE statements user_writes.update_user runs for `fields`, traced on a connection of its own."""
    statements: list[str] = []
    conn = sqlite3.connect(db_path, isolation_level=None, factory=WriterConnection)
    conn.row_factory = sqlite3.Row
    try:
        conn.set_trace_callback(statements.append)
        conn.execute("BEGIN IMMEDIATE")
        user_writes.update_user(
            conn, "2026-01-01T00:00:00.000Z", scim_id, fields=fields, expected_version=None
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return [s for s in statements if s.startswith("UPDATE users")]


def _traced_update(
    db_path: Path, scim_id: str, fields: UserFields, known: UserRecord
) -> tuple[UserRecord, list[str]]:
    """user_writes.update_user given the caller's record, and the statements it ran, on a connection of its own."""
    statements: list[str] = []
    conn = sqlite3.connect(db_path, isolation_level=None, factory=WriterConnection)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.set_trace_callback(statements.append)
        record = user_writes.update_user(
            conn, "2026-01-01T00:00:00.000Z", scim_id, fields=fields, expected_version=None, known=known
        )
        conn.set_trace_callback(None)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return record, statements


async def test_an_update_given_the_current_record_is_its_update_alone(store: Store, db_path: Path) -> None:
    """A deactivation given the user as read (still at that version) runs one UPDATE naming that version,
    no SELECT before it, and answers what a read then returns; given a record a version behind, the UPDATE
    matches nothing and the write reads the row as without one."""
    user = await add_user(
        store, "erin", external_id="ext-e", display_name="Erin", emails=[{"value": "e@x.org"}]
    )
    await add_group(store, "Ops", [user.scim_id])
    read = await store.get_user_by_scim_id(user.scim_id)
    assert read is not None
    off = UserFields("erin", "ext-e", "Erin", False, {**read.doc, "active": False})
    updated, statements = _traced_update(db_path, user.scim_id, off, read)
    assert len(statements) == 1
    assert statements[0].startswith("UPDATE users SET version = version + 1, active = ")
    assert statements[0].endswith(f"AND version = {read.version}")
    assert updated == await store.get_user_by_scim_id(user.scim_id)
    assert updated.version == read.version + 1
    # `read` is a version behind now: the UPDATE naming its version changes nothing, the row is read.
    renamed = UserFields("Erin2", "ext-e", "Erin", True, {**read.doc, "userName": "Erin2"})
    again, statements = _traced_update(db_path, user.scim_id, renamed, read)
    assert [s.split()[0] for s in statements] == ["UPDATE", "SELECT", "UPDATE", "SELECT", "SELECT"]
    assert again == await store.get_user_by_scim_id(user.scim_id)
    assert (again.version, again.user_name, again.active) == (read.version + 2, "Erin2", True)


async def test_an_update_sets_only_the_indexed_columns_that_change(store: Store, db_path: Path) -> None:
    # SQLite rewrites the index entry of every indexed column an UPDATE sets, even to its old value: a
    # deactivation must set none of userName, externalId and displayName (each has an index).
    user = await add_user(store, "dora", external_id="ext-d", display_name="Dora")

    def fields(**changes: object) -> UserFields:
        base: dict[str, object] = {
            "user_name": "dora",
            "external_id": "ext-d",
            "display_name": "Dora",
            "active": False,
            "doc": {"userName": "dora"},
        }
        return UserFields(**(base | changes))  # type: ignore[arg-type]

    [deactivation] = _updates_of(db_path, user.scim_id, fields())
    assert not any(column in deactivation for column in ("user_name =", "external_id =", "display_name ="))
    [rename] = _updates_of(db_path, user.scim_id, fields(user_name="Dora", display_name=None))
    assert "user_name =" in rename
    assert "display_name =" in rename
    assert "external_id =" not in rename
    renamed = await store.get_user_by_scim_id(user.scim_id)
    assert renamed is not None
    assert (renamed.user_name, renamed.external_id, renamed.display_name, renamed.active) == (
        "Dora",
        "ext-d",
        None,
        False,
    )
    assert renamed.version == user.version + 2
    assert await store.get_users_by_external_id("ext-d") == [renamed]


async def test_the_record_a_user_write_returns_is_the_one_a_read_then_returns(
    store: Store, clock: ManualClock
) -> None:
    """Inserts and updates build their answer from what they wrote instead of reading the row back: it must
    still be the stored state, to the document's decoded values, the timestamps and the groups."""
    doc: dict[str, object] = {
        "userName": "carol",
        "name": {"givenName": "Carol", "familyName": "Ng"},
        "emails": [{"value": "c@x.org", "type": "work", "primary": True}],
        "x-numbers": [1, 2.5, 10**20, -0.0],
        "active": True,
    }
    fields = UserFields(user_name="carol", external_id="ext-c", display_name="Carol N", active=True, doc=doc)
    inserted = await store.insert_user(scim_id=new_id(), det_id=4242, fields=fields)
    assert inserted == await store.get_user_by_scim_id(inserted.scim_id)
    group = await add_group(store, "Readers", [inserted.scim_id])
    clock.advance(2.5)
    renamed = UserFields(
        user_name="Caroline",
        external_id=None,
        display_name=None,
        active=False,
        doc={**doc, "userName": "Caroline"},
    )
    updated = await store.update_user(inserted.scim_id, fields=renamed, expected_version=2)
    read = await store.get_user_by_scim_id(inserted.scim_id)
    assert updated == read
    assert read is not None
    assert (read.version, read.groups[0].scim_id, read.active) == (3, group.scim_id, False)
    assert (read.created, read.last_modified) == (inserted.created, format_ts(clock.now))


async def test_an_update_given_the_user_as_read_answers_what_a_read_then_returns(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the caller's record still current, its groups and email rows are not read again; once a group
    change moved the user on, they are."""
    reads: list[str] = []

    def counted(conn: sqlite3.Connection, scim_id: str) -> tuple[UserGroup, ...]:
        reads.append(scim_id)
        return user_groups.read_groups(conn, scim_id)

    monkeypatch.setattr(user_writes, "read_groups", counted)
    user = await add_user(store, "dana", emails=[{"value": "d@x.org", "type": "work"}])
    await add_group(store, "Ops", [user.scim_id])
    read = await store.get_user_by_scim_id(user.scim_id)
    assert read is not None
    assert len(read.groups) == 1
    same = UserFields(user_name="dana", external_id=None, display_name=None, active=False, doc=dict(read.doc))
    updated = await store.update_user(user.scim_id, same, known=read)
    assert updated == await store.get_user_by_scim_id(user.scim_id)
    assert reads == []
    # The record the caller holds is now one version behind: a group added meanwhile must show.
    await add_group(store, "Dev", [user.scim_id])
    new_mail = {**read.doc, "emails": [{"value": "dana@x.org", "primary": True}]}
    moved = UserFields(user_name="dana", external_id=None, display_name=None, active=True, doc=new_mail)
    again = await store.update_user(user.scim_id, moved, known=updated)
    assert again == await store.get_user_by_scim_id(user.scim_id)
    assert reads == [user.scim_id]
    assert [g.display_name for g in again.groups] == ["Dev", "Ops"]
    total, _ = await store.list_users(
        "EXISTS (SELECT 1 FROM user_emails e WHERE e.user_pk = u.pk AND e.value = ? AND e.is_primary = 1)",
        ["dana@x.org"],
        limit=10,
    )
    assert total == 1
    # Current again, and an email change through it: the rows follow the document.
    third = await store.update_user(
        user.scim_id, UserFields("dana", None, None, True, {**new_mail, "emails": []}), known=again
    )
    assert third == await store.get_user_by_scim_id(user.scim_id)
    total, _ = await store.list_users(
        "EXISTS (SELECT 1 FROM user_emails e WHERE e.user_pk = u.pk)", [], limit=10
    )
    assert total == 0
