"""Contract tests: the official `determined` 0.38.1 bindings drive the emulator over HTTP.

The SDK is installed with `pip install --no-deps determined==0.38.1` plus only what its bindings and
CLI import (see the Makefile's dev install); its full dependency set pulls in ML tooling we do not need.
The SDK is synchronous (requests), so each scenario runs in a worker thread while the emulator serves
on the test's event loop.
"""

from __future__ import annotations

import asyncio

import pytest
from determined.common.api import authentication, bindings, errors
from determined.common.api._session import Session, UnauthSession
from pytest_aiohttp import AiohttpClient

from bridge.emulator import EmulatorConfig
from tests.emulator.conftest import Master, start_master


def _url(master: Master) -> str:
    return f"http://127.0.0.1:{master.client.port}"


def _admin(url: str, password: str = "") -> Session:
    session: Session = authentication.login(url, "admin", password)
    return session


def users_scenario(url: str) -> None:
    """Login, create, list, patch, deactivate users and set a password through the bindings."""
    unauth = UnauthSession(url, cert=None, max_retries=0)
    master_info = bindings.get_GetMaster(unauth)
    assert master_info.version == "0.38.1"
    sess = _admin(url)
    me = bindings.get_GetMe(sess)
    assert (me.user.username, me.user.admin) == ("admin", True)
    created = bindings.post_PostUser(
        sess,
        body=bindings.v1PostUserRequest(
            user=bindings.v1User(username="jane", admin=False, active=True, remote=False),
            password=authentication.salt_and_hash("Passw0rdX"),
            isHashed=True,
        ),
    )
    assert created.user is not None
    jane_id = created.user.id
    assert jane_id == 3
    assert created.user.lastAuthAt is None
    jane = authentication.login(url, "jane", "Passw0rdX")
    assert bindings.get_GetMe(jane).user.username == "jane"
    listed = bindings.get_GetUsers(sess, name="JAN", active=True)
    assert [u.username for u in listed.users or []] == ["jane"]
    assert listed.pagination is not None
    assert listed.pagination.total == 1
    by_name = bindings.get_GetUserByUsername(sess, username="jane")
    assert by_name.user.id == jane_id
    patched = bindings.patch_PatchUser(
        sess, userId=jane_id, body=bindings.v1PatchUser(displayName="Jane Doe", active=True)
    )
    assert patched.user.displayName == "Jane Doe"
    bindings.post_SetUserPassword(sess, userId=jane_id, body="N3wPassw0rd")
    with pytest.raises(errors.UnauthenticatedException):
        bindings.get_GetMe(jane)
    authentication.login(url, "jane", "N3wPassw0rd")
    off = bindings.patch_PatchUser(sess, userId=jane_id, body=bindings.v1PatchUser(active=False))
    assert off.user.active is False
    with pytest.raises(errors.ForbiddenException):
        authentication.login(url, "jane", "N3wPassw0rd")
    bulk = bindings.patch_PatchUsers(
        sess, body=bindings.v1PatchUsersRequest(userIds=[jane_id], activate=True)
    )
    assert [(r.id, r.error) for r in bulk.results] == [(jane_id, "")]
    with pytest.raises(errors.NotFoundException):
        bindings.get_GetUser(sess, userId=999)
    sorted_users = bindings.get_GetUsers(
        sess, sortBy=bindings.v1GetUsersRequestSortBy.USER_NAME, orderBy=bindings.v1OrderBy.DESC
    )
    assert [u.username for u in sorted_users.users or []] == ["jane", "determined", "admin"]
    bindings.post_Logout(sess)
    with pytest.raises(errors.UnauthenticatedException):
        bindings.get_GetMe(sess)


def groups_scenario(url: str) -> None:
    """Create, search, describe, rename, add, remove and delete groups through the bindings."""
    sess = _admin(url)
    made = bindings.post_CreateGroup(sess, body=bindings.v1CreateGroupRequest(name="ml", addUsers=[2]))
    assert made.group.name == "ml"
    group_id = made.group.groupId
    assert group_id is not None
    assert [u.username for u in made.group.users or []] == ["determined"]
    found = bindings.post_GetGroups(sess, body=bindings.v1GetGroupsRequest(limit=500, name="ml"))
    assert [(g.group.name, g.numMembers) for g in found.groups or []] == [("ml", 1)]
    described = bindings.get_GetGroup(sess, groupId=group_id)
    assert described.group.name == "ml"
    updated = bindings.put_UpdateGroup(
        sess,
        groupId=group_id,
        body=bindings.v1UpdateGroupRequest(
            groupId=group_id, name="ml-platform", addUsers=[1], removeUsers=[2]
        ),
    )
    assert updated.group.name == "ml-platform"
    assert [u.id for u in updated.group.users or []] == [1]
    with pytest.raises(errors.APIException) as dup:
        bindings.put_UpdateGroup(
            sess, groupId=group_id, body=bindings.v1UpdateGroupRequest(groupId=group_id, addUsers=[1])
        )
    assert "row already exists" in str(dup.value)
    bindings.delete_DeleteGroup(sess, groupId=group_id)
    with pytest.raises(errors.NotFoundException):
        bindings.get_GetGroup(sess, groupId=group_id)


def tokens_scenario(url: str) -> None:
    """Create, list, use and revoke access tokens through the bindings."""
    sess = _admin(url)
    made = bindings.post_PostAccessToken(
        sess, body=bindings.v1PostAccessTokenRequest(userId=2, lifespan="72h", description="bridge")
    )
    assert made.token is not None
    assert made.tokenId is not None
    token_sess = Session(url, "determined", made.token, cert=None, max_retries=0)
    assert bindings.get_GetMe(token_sess).user.username == "determined"
    listed = bindings.get_GetAccessTokens(sess, username="determined")
    infos = listed.tokenInfo or []
    assert [(t.id, t.description, t.revoked) for t in infos] == [(made.tokenId, "bridge", False)]
    assert infos[0].tokenType == bindings.v1TokenType.ACCESS_TOKEN
    revoked = bindings.patch_PatchAccessToken(
        sess,
        tokenId=made.tokenId,
        body=bindings.v1PatchAccessTokenRequest(tokenId=made.tokenId, setRevoked=True),
    )
    assert revoked.tokenInfo is not None
    assert revoked.tokenInfo.revoked
    with pytest.raises(errors.UnauthenticatedException):
        bindings.get_GetMe(token_sess)
    assert bindings.get_GetAccessTokens(sess).tokenInfo == []


async def test_sdk_users(master: Master) -> None:
    await asyncio.to_thread(users_scenario, _url(master))


async def test_sdk_groups(master: Master) -> None:
    await asyncio.to_thread(groups_scenario, _url(master))


async def test_sdk_tokens(master: Master) -> None:
    await asyncio.to_thread(tokens_scenario, _url(master))


async def test_sdk_initial_password(aiohttp_client: AiohttpClient) -> None:
    master = await start_master(aiohttp_client, EmulatorConfig(initial_password="Init1alPass"))
    url = _url(master)
    with pytest.raises(errors.UnauthenticatedException):
        await asyncio.to_thread(_admin, url, "")
    sess = await asyncio.to_thread(_admin, url, "Init1alPass")
    assert (await asyncio.to_thread(bindings.get_GetMe, sess)).user.id == 1
