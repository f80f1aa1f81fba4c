"""Small builders for store test data."""

from __future__ import annotations

import itertools
import uuid

from bridge.store import GroupRecord, MemberRecord, MemberType, Store, UserFields, UserRecord, UserView

_det_ids = itertools.count(100)


def new_id() -> str:
    return str(uuid.uuid4())


def view_of(record: UserRecord) -> UserView:
    """What the store's conditional read (get_live_user_unless) answers for the live user `record`."""
    doc, active, version, groups = record.doc, record.active, record.version, record.groups
    return UserView(
        record.scim_id,
        doc,
        active,
        version,
        record.created,
        record.last_modified,
        groups,
    )


async def add_user(
    store: Store,
    user_name: str,
    *,
    external_id: str | None = None,
    display_name: str | None = None,
    active: bool = True,
    emails: list[object] | None = None,
    det_id: int | None = None,
) -> UserRecord:
    doc: dict[str, object] = {"userName": user_name, "active": active}
    if display_name is not None:
        doc["displayName"] = display_name
    if emails is not None:
        doc["emails"] = emails
    return await store.insert_user(
        scim_id=new_id(),
        det_id=det_id if det_id is not None else next(_det_ids),
        fields=UserFields(
            user_name=user_name, external_id=external_id, display_name=display_name, active=active, doc=doc
        ),
    )


async def add_group(
    store: Store, display_name: str, members: list[str] | None = None, *, external_id: str | None = None
) -> GroupRecord:
    return await store.insert_group(
        scim_id=new_id(),
        det_id=next(_det_ids),
        display_name=display_name,
        external_id=external_id,
        doc={"displayName": display_name},
        members=[user_member(m) for m in members or []],
    )


def user_member(scim_id: str, display: str | None = None) -> MemberRecord:
    return MemberRecord(scim_id, MemberType.USER, display)
