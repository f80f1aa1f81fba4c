"""Intent payload digests: written with orjson since round eight, and digests journalled before (the standard
library's text) still recognised, so an intent left pending across an upgrade resolves as it would have."""

from __future__ import annotations

import hashlib
import json

from bridge.determined import MasterGroupDetails, MasterUser
from bridge.provisioning.consistency import digest, digest_matches
from bridge.reconcile.journalled import journalled_group_create, journalled_relink, journalled_user_create


def _before_upgrade(payload: object) -> str:
    """The digest the bridge journalled before orjson: sha256 of json.dumps with sorted keys."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _member(det_id: int) -> MasterUser:
    return MasterUser(det_id, f"u{det_id}", False, True, "", True, None, None, None)


def test_a_digest_is_prefixed_and_matches_its_payload_only() -> None:
    payload = {"username": "ann", "active": True, "remote": True}
    made = digest(payload)
    assert made.startswith("2:")
    assert len(made) == 2 + 64
    assert made == digest({"remote": True, "active": True, "username": "ann"})  # key order does not matter
    assert digest_matches(payload, made)
    assert not digest_matches({**payload, "active": False}, made)


def test_digests_journalled_before_the_upgrade_still_match() -> None:
    assert (
        journalled_user_create(_before_upgrade({"username": "ann", "active": False, "remote": True}), "ann")
        is False
    )
    assert (
        journalled_user_create(_before_upgrade({"username": "ann", "active": True, "remote": False}), "bob")
        is None
    )
    assert journalled_relink(_before_upgrade({"det_id": 7, "username": "ann"}), 7, "ann")
    assert not journalled_relink(_before_upgrade({"det_id": 7, "username": "ann"}), 8, "ann")
    group = MasterGroupDetails(3, "Téam", (_member(12), _member(5)))
    assert journalled_group_create(_before_upgrade({"name": "Téam", "members": [5, 12]}), group)


def test_new_digests_match_through_the_same_helpers() -> None:
    assert journalled_user_create(digest({"username": "ann", "active": True, "remote": False}), "ann") is True
    group = MasterGroupDetails(3, "Téam", (_member(12), _member(5)))
    assert journalled_group_create(digest({"name": "Téam", "members": [5, 12]}), group)
    assert not journalled_group_create(digest({"name": "Téam", "members": [5]}), group)


def test_a_payload_orjson_refuses_is_digested_the_old_way() -> None:
    payload = {"det_id": 2**70, "username": "ann"}
    assert digest(payload) == _before_upgrade(payload)
    assert digest_matches(payload, digest(payload))
