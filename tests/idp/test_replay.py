"""Replay every shared IdP scenario end to end; after each step the master must mirror the SCIM view, and at
named steps it must hold exactly what the IdP intended (users, active flags, display names, groups, members)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.config import UsersSettings
from bridge.provisioning.translate import display_name_for
from tests.idp.harness import BASE_PATH, ENTRA_TOKEN, OKTA_BASIC, World, start_world
from tests.idp.master_view import MasterState
from tests.idp.replay import Replay, base_values, load, scenario_names

ADA = "ada.lovelace@example.com"
CHARLES = "charles.babbage@example.com"
GROUP = "Engineering"
RENAMED = "Engineering (renamed)"
JUMPCLOUD_TEST = "jumpcloud.test.user@example.com"
# IdPs whose scenario authenticates with a bearer token; the others use the seed's basic-auth block.
BEARER = frozenset({"entra", "entra-aadoptscim062020", "google-workspace", "jumpcloud", "onelogin"})


@dataclass(frozen=True, slots=True)
class Intent:
    """What the IdP means the master to hold after a step: users (active, displayName) and the exact groups."""

    users: dict[str, tuple[bool, str]] = field(default_factory=dict)
    groups: dict[str, frozenset[str]] | None = None


def members(*names: str) -> frozenset[str]:
    return frozenset(names)


# Derived by reading each scenario file: the state its IdP expects after the named step.
INTENTS: dict[str, dict[str, Intent]] = {
    "okta": {
        "assign_user2_create": Intent({ADA: (True, "Ada Lovelace"), CHARLES: (True, "Charles Babbage")}, {}),
        "profile_update_put": Intent({ADA: (True, "Augusta Lovelace")}),
        "deactivate_user": Intent({ADA: (False, "Augusta Lovelace")}),
        "reactivate_user": Intent({ADA: (True, "Augusta Lovelace")}),
        "push_group_add_members": Intent(groups={GROUP: members(ADA, CHARLES)}),
        "membership_remove_and_add": Intent(groups={GROUP: members(ADA)}),
        "membership_full_push": Intent(groups={GROUP: members(ADA, CHARLES)}),
        "membership_push_empty_group": Intent(groups={GROUP: members()}),
        "group_rename": Intent(groups={RENAMED: members()}),
        "unassign_user2": Intent({CHARLES: (False, "Charles Babbage")}),
        "unlink_and_delete_group": Intent(
            {ADA: (True, "Augusta Lovelace"), CHARLES: (False, "Charles Babbage")}, {}
        ),
        "spec_test_bad_credentials_401": Intent(
            {ADA: (True, "Augusta Lovelace"), CHARLES: (False, "Charles Babbage")}, {}
        ),
    },
    "entra": {
        "create_manager": Intent({ADA: (True, "Joy Young"), CHARLES: (True, "Ellen Reckert")}),
        "update_attributes": Intent({ADA: (True, "Joy Young-Smith")}),
        "disable_user": Intent({ADA: (False, "Joy Young-Smith")}),
        "enable_user": Intent({ADA: (True, "Joy Young-Smith")}),
        "create_group": Intent(groups={GROUP: members()}),
        "add_members_batch": Intent(groups={GROUP: members(ADA, CHARLES)}),
        "remove_member": Intent(groups={GROUP: members(ADA)}),
        "remove_member_again": Intent(groups={GROUP: members(ADA)}),
        "rename_group": Intent(groups={RENAMED: members(ADA)}),
        "delete_group": Intent(groups={}),
        "hard_delete_user": Intent({ADA: (True, "Joy Young-Smith"), CHARLES: (False, "Ellen Reckert")}, {}),
    },
    "authentik": {
        "user_update_put": Intent({ADA: (True, "Augusta Ada Lovelace")}),
        "user_deactivate_put": Intent({CHARLES: (False, "Charles Babbage")}),
        "user_reactivate_put": Intent({CHARLES: (True, "Charles Babbage")}),
        "group_add_members": Intent(groups={GROUP: members(ADA, CHARLES)}),
        "group_remove_member": Intent(groups={GROUP: members(ADA)}),
        "group_rename": Intent(groups={RENAMED: members(ADA)}),
        "user2_delete": Intent(
            {ADA: (False, "Augusta Ada Lovelace"), CHARLES: (False, "Charles Babbage")}, {}
        ),
    },
    "keycloak": {
        "user_update_put": Intent({ADA: (True, "Augusta Lovelace")}),
        "user_disable_put": Intent({CHARLES: (False, "Charles Babbage")}),
        "user_enable_put": Intent({CHARLES: (True, "Charles Babbage")}),
        "membership_add_put_group": Intent(groups={GROUP: members(ADA, CHARLES)}),
        "membership_remove_put_group": Intent(groups={GROUP: members(ADA)}),
        "group_rename_put": Intent(groups={RENAMED: members(ADA)}),
        "membership_remove_last_put_group": Intent(groups={RENAMED: members()}),
        "group_update_patchop_mode": Intent(groups={RENAMED: members(ADA)}),
        "group_empty_patchop_mode": Intent(groups={RENAMED: members()}),
        "user2_delete": Intent({ADA: (False, "Augusta Lovelace"), CHARLES: (False, "Charles Babbage")}, {}),
    },
    # Our own scenarios (tests/idp_extra/scenarios), written from idp-traffic.md.
    "entra-aadoptscim062020": {
        "create_manager": Intent({ADA: (True, "Barbara Jensen"), CHARLES: (True, "Kim Akers")}),
        "replace_several_attributes": Intent({ADA: (True, "Barbara J. Jensen")}),
        "disable_user": Intent({ADA: (False, "Barbara J. Jensen")}),
        "enable_user": Intent({ADA: (True, "Barbara J. Jensen")}),
        "create_group": Intent(groups={GROUP: members()}),
        "add_members": Intent(groups={GROUP: members(ADA, CHARLES)}),
        "remove_member_filter_path": Intent(groups={GROUP: members(ADA)}),
        "remove_member_filter_path_again": Intent(groups={GROUP: members(ADA)}),
        "rename_group": Intent(groups={"Engineering Platform": members(ADA)}),
        "delete_group": Intent(groups={}),
        "hard_delete_user2": Intent({ADA: (True, "Barbara J. Jensen"), CHARLES: (False, "Kim Akers")}, {}),
    },
    "google-workspace": {
        "user_create": Intent({ADA: (True, "Ada Lovelace")}, {}),
        "user_update": Intent({ADA: (True, "Ada King")}),
        "user_suspend": Intent({ADA: (False, "Ada King")}),
        "user_delete": Intent({ADA: (False, "Ada King")}, {}),
    },
    "jumpcloud": {
        "test_connection_create_group": Intent(
            {JUMPCLOUD_TEST: (True, "JumpCloud Test")}, {"JumpCloud Test Group": members()}
        ),
        "test_connection_delete_user": Intent({JUMPCLOUD_TEST: (False, "JumpCloud Test")}, {}),
        "user2_create": Intent({ADA: (True, "Ada Lovelace"), CHARLES: (True, "Grace Hopper")}),
        "user_update": Intent({ADA: (True, "Ada King")}),
        "group_create_with_member": Intent(groups={GROUP: members(ADA)}),
        "group_add_member": Intent(groups={GROUP: members(ADA, CHARLES)}),
        "group_remove_member": Intent(groups={GROUP: members(ADA)}),
        "group_rename": Intent(groups={"Engineering Team": members(ADA)}),
        "user2_deprovision": Intent({CHARLES: (False, "Grace Hopper")}),
        "group_delete": Intent(groups={}),
        "user2_delete": Intent({ADA: (True, "Ada King"), CHARLES: (False, "Grace Hopper")}, {}),
    },
    "okta-aiw": {
        "assign_user2_create": Intent({ADA: (True, "Ada Lovelace"), CHARLES: (True, "Grace Hopper")}, {}),
        "profile_update_put": Intent({ADA: (True, "Ada King")}),
        "deactivate_user2_put": Intent({CHARLES: (False, "Grace Hopper")}),
        "reactivate_user2_put": Intent({CHARLES: (True, "Grace Hopper")}),
        "push_group_create": Intent(groups={GROUP: members()}),
        "push_group_members_put": Intent(groups={GROUP: members(ADA, CHARLES)}),
        "push_group_remove_member_put": Intent(groups={GROUP: members(ADA)}),
        "push_group_rename_put": Intent(groups={"Engineering Renamed": members(ADA)}),
        "push_empty_group_put": Intent(groups={"Engineering Renamed": members()}),
        "unassign_user_put": Intent({ADA: (False, "Ada King")}),
        "unlink_and_delete_group": Intent({ADA: (False, "Ada King"), CHARLES: (True, "Grace Hopper")}, {}),
    },
    "onelogin": {
        "user2_create_enterprise_template": Intent(
            {ADA: (True, "Ada Lovelace"), CHARLES: (True, "Grace Hopper")}, {}
        ),
        "user_update_put": Intent({ADA: (True, "Ada King")}),
        "role_group_create": Intent(groups={GROUP: members()}),
        "role_group_add_members": Intent(groups={GROUP: members(ADA, CHARLES)}),
        "role_group_remove_member": Intent(groups={GROUP: members(ADA)}),
        "user_suspend_put": Intent({ADA: (False, "Ada King")}),
        "user_unsuspend_patch": Intent({ADA: (True, "Ada King")}),
        "user2_delete": Intent(
            {ADA: (True, "Ada King"), CHARLES: (False, "Grace Hopper")}, {GROUP: members(ADA)}
        ),
    },
    "pingfederate": {
        "user_update_put": Intent({ADA: (True, "Augusta Lovelace")}),
        "user_disable_put": Intent({ADA: (False, "Augusta Lovelace")}),
        "user_enable_put": Intent({ADA: (True, "Augusta Lovelace")}),
        "group_create": Intent(groups={GROUP: members(ADA, CHARLES)}),
        "group_members_patch_remove": Intent(groups={GROUP: members(ADA)}),
        "group_members_put": Intent(groups={GROUP: members(ADA)}),
        "group_rename_put": Intent(groups={RENAMED: members(ADA)}),
        "user2_delete": Intent({ADA: (False, "Augusta Lovelace"), CHARLES: (False, "Charles Babbage")}, {}),
    },
}


BodyCheck = Callable[[Any, dict[str, str]], bool]

# What the IdP needs in a response body beyond its status (idp-traffic §0 and each step's `expect.notes`).
BODY_CHECKS: dict[str, dict[str, BodyCheck]] = {
    "okta": {
        "assign_user_lookup": lambda b, _: b["totalResults"] == 0 and b["Resources"] == [],
        "verify_inactive_user_still_readable": lambda b, _: b["active"] is False,
        "spec_test_case_insensitive_lookup": lambda b, v: [r["id"] for r in b["Resources"]] == [v["user_id"]],
        "spec_test_duplicate_create_409": lambda b, _: b["scimType"] == "uniqueness" and b["status"] == "409",
        "spec_test_unknown_user_404": lambda b, _: bool(b["detail"]) and b["status"] == "404",
    },
    "entra": {
        "read_user": lambda b, v: b[ENTERPRISE]["manager"]["value"] == v["user2_id"],
        "disabled_user_still_matchable": lambda b, _: (
            b["totalResults"] == 1 and b["Resources"][0]["active"] is False
        ),
        "read_group": lambda b, _: "members" not in b,
        "match_deleted_user": lambda b, _: b["totalResults"] == 0,
    },
    "authentik": {
        "group_reconcile_read": lambda b, v: (
            {m["value"] for m in b["members"]} == {v["user_id"], v["user2_id"]}
        ),
    },
}
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def check_intent(state: MasterState, intent: Intent, step: str) -> None:
    for username, (active, display) in intent.users.items():
        user = state.users.get(username)
        assert user is not None, (step, username)
        assert (user.active, user.display_name) == (active, display), (step, username, user)
        assert user.remote, (step, username)
    if intent.groups is not None:
        assert state.groups == intent.groups, step


async def check_mirror(world: World, auth: str, step: str) -> None:
    """The master agrees with the bridge's SCIM view, and tombstoned users are inactive on the master."""
    state = await world.master.state()
    headers = {"Authorization": auth}
    users = await (await world.bridge.get(f"{BASE_PATH}/Users?count=1000", headers=headers)).json()
    names_by_id: dict[str, str] = {}
    for resource in users["Resources"]:
        names_by_id[resource["id"]] = resource["userName"]
        master_user = state.users[resource["userName"]]
        assert master_user.active == resource["active"], (step, resource["userName"])
        expected_display = display_name_for(resource, UsersSettings().display_name_source)
        assert master_user.display_name == expected_display, (step, resource["userName"])
    for record in await world.store.all_users(include_tombstoned=True):
        if record.tombstoned_at is not None:
            assert not state.users[record.user_name].active, (step, record.user_name)
    groups = await (await world.bridge.get(f"{BASE_PATH}/Groups?count=1000", headers=headers)).json()
    scim_groups = {
        g["displayName"]: frozenset(names_by_id[m["value"]] for m in g.get("members", []))
        for g in groups["Resources"]
    }
    assert scim_groups == state.groups, step


@pytest.mark.parametrize("scenario", scenario_names())
async def test_replay(
    scenario: str, aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    # Bearer-token IdPs get a configured token; the others run on the seed's Okta basic-auth block unchanged.
    bearer = scenario in BEARER
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path, entra_bearer=bearer)
    data = load(scenario)
    auth = f"Bearer {ENTRA_TOKEN}" if bearer else OKTA_BASIC
    replay = Replay(world.bridge, BASE_PATH, base_values(auth, ENTRA_TOKEN))
    intents = INTENTS.get(scenario, {})
    checked: list[str] = []

    body_checks = BODY_CHECKS.get(scenario, {})

    async def after(step: str) -> None:
        if step in body_checks:
            result = replay.results[-1]
            assert body_checks[step](result.body, replay.values), (step, result.body)
            checked.append(step)
        await check_mirror(world, auth, step)
        if step in intents:
            check_intent(await world.master.state(), intents[step], step)
            checked.append(step)

    await replay.run(data, after)
    assert sorted(checked) == sorted([*intents, *body_checks]), (
        "every checkpoint names a step of the scenario"
    )
