"""Recognise the master object a journalled write was about, from the intent's payload digest.

Provisioning journals a digest of the master payload, not the payload (it may hold personal data). Given a
candidate object read back from the master, the payload it would have produced is rebuilt and digested; a
match identifies the object. The payload shapes here mirror provisioning's ``Journal.write`` calls.
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.determined import MasterGroupDetails
from bridge.provisioning.consistency import digest_matches


def journalled_user_create(payload_digest: str, username: str) -> bool | None:
    """If a user create for ``username`` has this digest, the ``active`` it asked for; else None."""
    for active in (True, False):
        for remote in (True, False):
            if digest_matches({"username": username, "active": active, "remote": remote}, payload_digest):
                return active
    return None


def journalled_group_create(payload_digest: str, group: MasterGroupDetails) -> bool:
    """True if a group create with this digest would have produced ``group`` (name and members)."""
    members = sorted(user.id for user in group.users)
    return digest_matches({"name": group.name, "members": members}, payload_digest)


def journalled_relink(payload_digest: str, det_id: int, username: str) -> bool:
    """True if a relink of Determined user ``det_id`` under ``username`` has this digest."""
    return digest_matches({"det_id": det_id, "username": username}, payload_digest)


def journalled_user_delete(payload_digest: str, det_id: int, groups: Sequence[int], version: int) -> bool:
    """True if a user delete with this digest read Determined user ``det_id``'s mapping at ``version``, a member
    of ``groups`` (Determined ids, in the store's order): the mapping has not been written since."""
    return digest_matches({"det_id": det_id, "groups": list(groups), "version": version}, payload_digest)
