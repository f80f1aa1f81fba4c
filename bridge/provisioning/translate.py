"""Pure mapping between SCIM documents, store records and master fields (master-api.md §7.2)."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

from bridge.scim.etags import etag_for
from bridge.scim.filter_sql import MultiValuedSql
from bridge.scim.filters import SqlMapping
from bridge.scim.resources import plain_plan
from bridge.scim.schemas import USER_SCHEMA
from bridge.store import GroupRecord, MemberRecord, UserGroup, UserRecord, UserView
from bridge.store.sql_mapping import (
    GROUP_COLUMNS,
    GROUP_DOCUMENT_SQL,
    GROUP_MULTI_VALUED,
    USER_COLUMNS,
    USER_DOCUMENT_SQL,
    USER_MULTI_VALUED,
    MultiValuedColumns,
)

# Personal groups are the master's; it refuses this substring on create but not on rename (§4.11, §7.2).
PERSONAL_GROUP_MARK: Final = "DeterminedPersonalGroup"
_NOT_STORED: Final = frozenset({"id", "meta", "password", "members"})


def _mapping(
    document: str, columns: Mapping[str, str], multi: Mapping[str, MultiValuedColumns]
) -> SqlMapping:
    return SqlMapping(
        document=document,
        columns=columns,
        multi_valued={
            name: MultiValuedSql(from_where, cols, owner_key, keys_select)
            for name, (from_where, cols, owner_key, keys_select) in multi.items()
        },
    )


USER_SQL: Final = _mapping(USER_DOCUMENT_SQL, USER_COLUMNS, USER_MULTI_VALUED)
GROUP_SQL: Final = _mapping(GROUP_DOCUMENT_SQL, GROUP_COLUMNS, GROUP_MULTI_VALUED)


class MasterUserFields(NamedTuple):
    """The three user fields the bridge owns on the master (a named tuple: a user update builds three)."""

    username: str
    display_name: str
    active: bool


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def display_name_for(doc: Mapping[str, Any], sources: Sequence[str], user_name: str | None = None) -> str:
    """The master displayName from the first non-empty source (users.display_name_source), else "".

    `user_name`: the userName to use instead of the document's (a stored user's is its row's).
    """
    name = doc.get("name")
    # A dict (every cleaned or stored document's) by its type: the Mapping ABC's check costs ~1.5k
    # instructions, and every user write asks for the display name once or twice.
    if type(name) is not dict and not isinstance(name, Mapping):
        name = {}
    for source in sources:
        if source == "displayName":
            value = _text(doc.get("displayName"))
        elif source == "name.formatted":
            value = _text(name.get("formatted"))
        elif source == "name.givenFamily":
            value = " ".join(p for p in (_text(name.get("givenName")), _text(name.get("familyName"))) if p)
        elif source == "userName":
            value = _text(doc.get("userName") if user_name is None else user_name)
        else:
            value = ""
        if value:
            return value
    return ""


def ascii_display(value: str) -> str:
    """Transliterate to the printable ASCII the master accepts in names (§5.1, §7.3 item 4)."""
    if value.isascii() and value.isprintable():
        # Already printable ASCII (the usual case): NFKD and the per-character filter keep it as is.
        return " ".join(value.split())
    decomposed = unicodedata.normalize("NFKD", value)
    kept = "".join(ch for ch in decomposed if " " <= ch <= "~")
    return " ".join(kept.split())


def display_name_candidates(desired: str, user_name: str) -> list[str]:
    """Display names to try in order: the name, then disambiguated by userName (§7.2), then none at all.

    The master refuses a displayName equal to another user's name or display name (case-insensitive,
    PATCH only), non-ASCII names and `admin`/`determined`; an empty name is always accepted, so the IdP
    never sees a 4xx for a name it considers valid. The SCIM value stays in the store either way.
    """
    base = ascii_display(desired)
    out: list[str] = []
    for candidate in (base, f"{base} ({ascii_display(user_name)})" if base else "", ""):
        if candidate not in out:
            out.append(candidate)
    return out


def user_fields(
    doc: Mapping[str, Any],
    sources: Sequence[str],
    *,
    default_active: bool = True,
    user_name: str | None = None,
) -> MasterUserFields:
    """What the master should hold for this SCIM document (`user_name`: as `display_name_for`'s)."""
    active = doc.get("active")
    return MasterUserFields(
        username=_text(doc.get("userName") if user_name is None else user_name),
        display_name=display_name_for(doc, sources, user_name),
        active=active if isinstance(active, bool) else default_active,
    )


def stored_doc(doc: Mapping[str, Any], key: str, value: object) -> dict[str, Any]:
    """The document as the store keeps it, `key` set to `value` (in its place, else last): no id, meta or
    password (members live in their own table).

    One copy in C and a test for the keys dropped, which a write's document seldom holds: a comprehension
    over its items cost ~16 opcodes a key, and every user and group write makes one.
    """
    stored = {**doc, key: value}
    if not _NOT_STORED.isdisjoint(stored):
        for name in _NOT_STORED:
            stored.pop(name, None)
    return stored


def _meta(created: str, last_modified: str, version: int) -> dict[str, str]:
    # Records hold their timestamps as the store's text, which is what meta shows.
    return {"created": created, "lastModified": last_modified, "version": etag_for(version)}


def user_document(record: UserRecord, groups_base: str) -> dict[str, Any]:
    """The full SCIM document of a user (render() applies projection and location).

    `groups` (RFC 7643 §4.1.2) lists its direct memberships, `$ref` under `groups_base`; a user in no group
    has no `groups` attribute (§2.5: unassigned attributes are not returned).
    """
    doc = dict(record.doc)
    doc["id"] = record.scim_id
    doc["active"] = record.active
    doc.pop("groups", None)  # readOnly: only the membership table says what it is
    if record.groups:
        doc["groups"] = _user_groups(record.groups, groups_base)
    doc["meta"] = _meta(record.created, record.last_modified, record.version)
    return doc


def user_view(record: UserRecord) -> UserView:
    """What a read without projection renders of `record` (`plain_user_document`)."""
    return UserView(
        record.scim_id,
        record.doc,
        record.active,
        record.version,
        record.created,
        record.last_modified,
        record.groups,
    )


def _plain_user_layout() -> tuple[
    tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]
]:
    """The core attributes a read without projection returns, in render()'s order, cut where the record's own
    `active` and `groups` go (before active, between them, after groups); then each extension's."""
    (_, core), *extensions = plain_plan(USER_SCHEMA)  # the core schema's run first, active before groups
    active, groups = core.index("active"), core.index("groups")
    return (
        core[:active],
        core[active + 1 : groups],
        core[groups + 1 :],
        tuple((u, n) for u, n in extensions if u),
    )


_USER_LAYOUT: Final = _plain_user_layout()


@functools.lru_cache(maxsize=64)
def _present_layout(
    keys: tuple[str, ...],
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """`_USER_LAYOUT` less the names a document with these keys lacks. Documents of one IdP share a few
    shapes, and a loop step per name of the schema (a Python loop step costs ~0.5k instructions) was more
    than half of a plain render."""
    present = frozenset(keys)
    before_active, before_groups, after_groups, extensions = _USER_LAYOUT
    return (
        tuple(n for n in before_active if n in present),
        tuple(n for n in before_groups if n in present),
        tuple(n for n in after_groups if n in present),
        tuple((urn, names) for urn, names in extensions if urn in present),
    )


def _user_groups(groups: tuple[UserGroup, ...], groups_base: str) -> list[dict[str, str]]:
    return [
        {
            "value": g.scim_id,
            "$ref": f"{groups_base}/{g.scim_id}",
            "display": g.display_name,
            "type": "direct",
        }
        for g in groups
    ]


def plain_user_document(view: UserView, groups_base: str, location: str) -> dict[str, Any]:
    """``render(user_document(record, groups_base), USER_SCHEMA, location=location, copy=False)`` without
    projection (every GET that misses the kept bodies, every plain listing), built in one pass.

    The same dict, key for key and in the same order (a test holds the two to it), without the document's
    copy, the loop over the whole schema's plan, meta's copy and the timestamps' parsing and formatting:
    ~24k instructions fewer for a usual user. Its values are the document's own (not copied): the caller
    encodes the result at once.
    """
    doc = view.doc
    before_active, before_groups, after_groups, extensions = _present_layout(tuple(doc))
    out: dict[str, Any] = {"schemas": [USER_SCHEMA.core.id], "id": view.scim_id}
    for name in before_active:
        value = doc.get(name)
        if value is None or value == {}:
            continue
        out[name] = value
    out["active"] = view.active
    for name in before_groups:
        value = doc.get(name)
        if value is None or value == {}:
            continue
        out[name] = value
    if view.groups:
        out["groups"] = _user_groups(view.groups, groups_base)
    for name in after_groups:
        value = doc.get(name)
        if value is None or value == {}:
            continue
        out[name] = value
    for urn, names in extensions:
        container = doc.get(urn)
        if type(container) is not dict and not isinstance(container, Mapping):
            continue
        extension: dict[str, Any] = {}
        for name in names:
            value = container.get(name)
            if value is None or value == {}:
                continue
            extension[name] = value
        if extension:
            out[urn] = extension
            out["schemas"].append(urn)
    out["meta"] = {
        "created": view.created,
        "lastModified": view.last_modified,
        "version": etag_for(view.version),
        "resourceType": USER_SCHEMA.name,
        "location": location,
    }
    return out


def member_entry(member: MemberRecord, users_base: str, groups_base: str) -> dict[str, Any]:
    """One RFC 7643 §4.2 `members` element with its `$ref`."""
    base = users_base if member.member_type.value == "User" else groups_base
    entry: dict[str, Any] = {
        "value": member.member_scim_id,
        "$ref": f"{base}/{member.member_scim_id}",
        "type": member.member_type.value,
    }
    if member.display:
        entry["display"] = member.display
    return entry


def group_document(
    record: GroupRecord, members: Sequence[MemberRecord] | None, users_base: str, groups_base: str
) -> dict[str, Any]:
    """The SCIM document of a group; `members` None leaves the attribute out (never loaded)."""
    doc = dict(record.doc)
    doc["id"] = record.scim_id
    doc["displayName"] = record.display_name
    if members is not None:
        doc["members"] = [member_entry(m, users_base, groups_base) for m in members]
    doc["meta"] = _meta(record.created, record.last_modified, record.version)
    return doc
