"""Linking existing Determined users and groups to SCIM identities: `adopt` by name, `import-builtin` from the
built-in plugin's `scim.users` export (master-api.md §6.5, §7.3 item 9), each with a report."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from bridge.determined import DeterminedClient, MasterNotFound, MasterUser
from bridge.provisioning.stale import USER_MISSING, missing_users
from bridge.provisioning.users import BUILTIN_USER_IDS
from bridge.store import Duplicate, DuplicateScimId, GroupRecord, MemberRecord, Store, UserFields, UserRecord

# The skip reason when the insert finds the Determined object or its name mapped after adoption checked.
MAPPED_MEANWHILE: Final = "mapped meanwhile (by a serving bridge or another adoption)"


@dataclass(slots=True)
class AdoptionReport:
    """What an adoption run linked and what it left alone, with the reason."""

    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # userNames freed from a deleted user's mapping whose Determined user is gone, with that mapping's SCIM id.
    released: list[tuple[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable report lines."""
        out = [
            f"released {name}: deleted user {scim_id} maps to a Determined user that no longer exists "
            f"({USER_MISSING})"
            for name, scim_id in self.released
        ]
        out += [f"user linked: {name}" for name in self.users]
        out += [f"group linked: {name}" for name in self.groups]
        out += [f"skipped {name}: {reason}" for name, reason in self.skipped]
        out.append(f"{len(self.users)} users, {len(self.groups)} groups linked; {len(self.skipped)} skipped")
        return out


def held_by_tombstone(record: UserRecord, user: MasterUser) -> str:
    """The skip reason for a master user `user` that a deleted SCIM user's mapping `record` still points at: the
    IdP's POST of the tombstone's userName relinks it while the user still bears that name (users._relinkable);
    under another name that POST drops the tombstone instead, and a later adoption can link the user."""
    held = f"Determined user held by deleted SCIM user {record.scim_id}"
    if user.username.casefold() == record.user_name.casefold():
        return f"{held} (the IdP relinks it by creating userName {record.user_name} again)"
    return (
        f"{held} under userName {record.user_name} (an IdP create of that userName drops the deleted user; "
        "adopt again after it)"
    )


@dataclass(frozen=True, slots=True)
class BuiltinRow:
    """One row of the built-in plugin's `scim.users` table."""

    scim_id: str
    user_id: int
    external_id: str | None
    name: Mapping[str, Any] | None
    emails: Sequence[Mapping[str, Any]] | None


def _user_doc(user: MasterUser, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"userName": user.username, "active": user.active}
    if user.display_name:
        doc["displayName"] = user.display_name
    doc.update({k: v for k, v in (extra or {}).items() if v})
    return doc


async def mapped_members(store: Store, users: Iterable[MasterUser]) -> list[MemberRecord]:
    """The store's members for a master group's users: those with a live mapping, under their SCIM ids."""
    members: list[MemberRecord] = []
    for user in users:
        record = await store.get_user_by_det_id(user.id)
        if record is not None:
            members.append(MemberRecord(record.scim_id, display=record.user_name))
    return members


async def map_master_group(
    store: Store, scim_id: str, det_id: int, name: str, users: Iterable[MasterUser]
) -> GroupRecord:
    """Map a master group under `scim_id`: its name as the displayName, and those of its users the store maps
    as members (adoption, and intent resolution finding a journalled create on the master). Raises
    Duplicate when the group or its name was mapped meanwhile."""
    return await store.insert_group(
        scim_id=scim_id,
        det_id=det_id,
        display_name=name,
        external_id=None,
        doc={"displayName": name},
        members=await mapped_members(store, users),
    )


class Adopter:
    """Links unmanaged master objects into the store; never writes to the master."""

    def __init__(self, store: Store, master: DeterminedClient, protected: Iterable[str]) -> None:
        self._store = store
        self._master = master
        self._protected = frozenset(n.lower() for n in protected) | {"admin", "determined"}

    def _refusal(self, user: MasterUser) -> str | None:
        if user.id in BUILTIN_USER_IDS or user.username.lower() in self._protected:
            return "protected account"
        return None

    async def _learn_own_account(self) -> None:
        # The bridge's own service account is never adopted, whatever credential kind it uses.
        own = await self._master.me()
        self._protected = self._protected | {own.username.lower()}

    async def adopt(self, *, dry_run: bool = False, groups: bool = True) -> AdoptionReport:
        """Map every unmapped master user by its username, then every unmapped group by its name."""
        await self._learn_own_account()
        report = AdoptionReport()
        async for user in self._master.iter_users():
            mapped = await self._store.get_user_by_det_id(user.id, include_tombstoned=True)
            if mapped is not None:
                # A live mapping is simply managed; a deleted one is the IdP's to relink, which an operator
                # adopting the user would otherwise not learn from the report.
                if mapped.tombstoned_at is not None:
                    report.skipped.append((user.username, held_by_tombstone(mapped, user)))
                continue
            reason = self._refusal(user)
            holder = None
            if reason is None:
                holder = await self._store.get_user_by_user_name(user.username, include_tombstoned=True)
            if holder is not None:
                reason = await self._held(holder)
            if reason is not None:
                report.skipped.append((user.username, reason))
                continue
            if holder is not None:
                if not dry_run:
                    await self._store.forget_tombstone(holder.scim_id)
                report.released.append((user.username, holder.scim_id))
            if not dry_run:
                try:
                    await self._insert_user(str(uuid.uuid4()), user, _user_doc(user), None)
                except Duplicate:
                    # A serving bridge (or another adopter) mapped it, or its userName, since the checks above.
                    report.skipped.append((user.username, MAPPED_MEANWHILE))
                    continue
            report.users.append(user.username)
        if groups:
            await self._adopt_groups(report, dry_run=dry_run)
        return report

    async def _held(self, holder: UserRecord) -> str | None:
        """Why a mapping holding the userName stops its adoption; None for a dead tombstone.

        A deleted user's mapping whose Determined user is gone can never be relinked (a POST of its userName
        drops it and provisions afresh), so it does not hold the name against the master's user of that name.
        A live mapping stays the IdP's resource even when its Determined user is gone: its next write retires
        it (user.missing), and only then is the name free.
        """
        gone = holder.det_id in await missing_users(self._master, [holder.det_id])
        if holder.tombstoned_at is not None and gone:
            return None
        if gone:
            return f"userName held by a SCIM user whose Determined user no longer exists ({USER_MISSING})"
        return "userName already mapped to another Determined user"

    async def _adopt_groups(self, report: AdoptionReport, *, dry_run: bool) -> None:
        async for group in self._master.iter_groups():
            if await self._store.get_group_by_det_id(group.id) is not None:
                continue
            if await self._store.get_group_by_display_name(group.name) is not None:
                report.skipped.append((group.name, "displayName already mapped to another group"))
                continue
            if not dry_run:
                details = await self._master.get_group(group.id)
                try:
                    await map_master_group(
                        self._store, str(uuid.uuid4()), group.id, group.name, details.users
                    )
                except Duplicate:
                    # As for users: the group, or its displayName, was mapped since the checks above.
                    report.skipped.append((group.name, MAPPED_MEANWHILE))
                    continue
            report.groups.append(group.name)

    async def import_builtin(self, rows: Sequence[BuiltinRow], *, dry_run: bool = False) -> AdoptionReport:
        """Map users under the SCIM ids the built-in plugin gave them, so IdP links survive the switch."""
        await self._learn_own_account()
        report = AdoptionReport()
        for row in rows:
            try:
                user = await self._master.get_user(row.user_id)
            except MasterNotFound as err:
                # Only the master's own "user not found" says so; a proxy's 404 stops the import instead of
                # skipping rows whose users exist (their SCIM ids would be lost to the IdP's links).
                if not err.is_unknown_user():
                    raise
                report.skipped.append((row.scim_id, f"Determined user {row.user_id} does not exist"))
                continue
            reason = self._refusal(user)
            if reason is None and await self._store.get_user_by_det_id(user.id, include_tombstoned=True):
                reason = "already mapped"
            holder = None
            if reason is None:
                holder = await self._store.get_user_by_user_name(user.username, include_tombstoned=True)
            if holder is not None:
                reason = await self._held(holder)
            if reason is not None:
                report.skipped.append((user.username, reason))
                continue
            if holder is not None:
                if not dry_run:
                    await self._store.forget_tombstone(holder.scim_id)
                report.released.append((user.username, holder.scim_id))
            extra = {
                "externalId": row.external_id,
                "name": dict(row.name or {}),
                "emails": list(row.emails or []),
            }
            if not dry_run:
                try:
                    await self._insert_user(row.scim_id, user, _user_doc(user, extra), row.external_id)
                except DuplicateScimId:
                    report.skipped.append(
                        (user.username, f"SCIM id {row.scim_id} is already another mapping's")
                    )
                    continue
                except Duplicate:
                    report.skipped.append((user.username, MAPPED_MEANWHILE))
                    continue
            report.users.append(user.username)
        return report

    async def _insert_user(
        self, scim_id: str, user: MasterUser, doc: Mapping[str, Any], external_id: str | None
    ) -> None:
        fields = UserFields(user.username, external_id, user.display_name or None, user.active, doc)
        await self._store.insert_user(scim_id=scim_id, det_id=user.id, fields=fields)


def _json_field(value: object, what: str) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError(f"{what} is not JSON") from None
    return value


def _row(raw: Mapping[str, Any], index: int) -> BuiltinRow:
    try:
        scim_id = str(uuid.UUID(str(raw["id"])))
        user_id = int(raw["user_id"])
    except (KeyError, ValueError, TypeError):
        raise ValueError(f"row {index}: needs a UUID `id` and an integer `user_id`") from None
    external = raw.get("external_id")
    name = _json_field(raw.get("name"), f"row {index}: name")
    emails = _json_field(raw.get("emails"), f"row {index}: emails")
    return BuiltinRow(
        scim_id=scim_id,
        user_id=user_id,
        external_id=str(external) if external else None,
        name=name if isinstance(name, Mapping) else None,
        emails=[e for e in emails if isinstance(e, Mapping)] if isinstance(emails, list) else None,
    )


def parse_builtin_export(text: str) -> list[BuiltinRow]:
    """Rows from a JSON array of objects or a CSV with a header (`\\copy scim.users ... csv header`)."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        raw = json.loads(stripped)
        if not isinstance(raw, list) or not all(isinstance(r, Mapping) for r in raw):
            raise ValueError("the JSON export must be an array of objects")
        return [_row(r, i) for i, r in enumerate(raw, 1)]
    return [_row(r, i) for i, r in enumerate(csv.DictReader(io.StringIO(text)), 1)]
