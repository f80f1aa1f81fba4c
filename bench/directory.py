"""Loading the benchmark directory: users and groups POSTed through SCIM in parallel, det ids read natively."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from bench.clients import GROUP_SCHEMA, HttpSide, members_add, patch_body, user_doc
from bench.loadgen import closed_loop

LOAD_CONCURRENCY: Final = 16
MEMBER_CHUNK: Final = 1000
LOAD_SECONDS: Final = 3600.0


class LoadError(RuntimeError):
    """Loading the directory failed: the numbers that would follow mean nothing."""


def user_name(seq: int) -> str:
    """The userName of directory user `seq`."""
    return f"user{seq:06d}@bench.example"


@dataclass(slots=True)
class Directory:
    """What has been loaded so far: SCIM ids by sequence number, and Determined ids by userName."""

    scim_ids: list[str] = field(default_factory=list)
    det_ids: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Users loaded."""
        return len(self.scim_ids)


async def create_users(side: HttpSide, names: Sequence[str], first_seq: int) -> list[str]:
    """POST /Users for each name, `LOAD_CONCURRENCY` at a time; returns the ids in order."""
    ids: list[str | None] = [None] * len(names)

    async def post(i: int) -> int:
        status, body = await side.call("POST", "/Users", user_doc(names[i], first_seq + i))
        if status == 201:
            ids[i] = str(body["id"])
        return status

    stats = await closed_loop(
        post, requests=len(names), concurrency=LOAD_CONCURRENCY, max_seconds=LOAD_SECONDS
    )
    if stats.failures or any(i is None for i in ids):
        raise LoadError(f"{stats.failures} of {len(names)} user creates failed: {stats.failure_samples}")
    return [i for i in ids if i is not None]


async def grow_users(side: HttpSide, directory: Directory, size: int) -> None:
    """Create users until the directory holds `size`."""
    start = directory.size
    if size > start:
        directory.scim_ids += await create_users(side, [user_name(s) for s in range(start, size)], start)


async def read_det_ids(native: HttpSide, directory: Directory) -> None:
    """Every master user's id by username (GetUsers with limit=0 returns all, contract §4.4)."""
    status, body = await native.call("GET", "/users?limit=0")
    if status != 200:
        raise LoadError(f"GET /api/v1/users answered {status}")
    directory.det_ids = {str(u["username"]): int(u["id"]) for u in body["users"]}


async def create_scim_group(side: HttpSide, name: str, member_ids: Sequence[str]) -> str:
    """POST /Groups with the first chunk of members, then PATCH the rest in chunks; returns the group id."""
    first, rest = list(member_ids[:MEMBER_CHUNK]), member_ids[MEMBER_CHUNK:]
    body = {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": m} for m in first]}
    status, created = await side.call("POST", "/Groups", body)
    if status != 201:
        raise LoadError(f"POST /Groups {name!r} answered {status}: {created}")
    group_id = str(created["id"])
    for at in range(0, len(rest), MEMBER_CHUNK):
        chunk = list(rest[at : at + MEMBER_CHUNK])
        status, answer = await side.call("PATCH", f"/Groups/{group_id}", patch_body(members_add(chunk)))
        if status not in (200, 204):
            raise LoadError(f"PATCH /Groups/{group_id} answered {status}: {answer}")
    return group_id


async def create_native_group(native: HttpSide, name: str, det_ids: Sequence[int]) -> int:
    """POST /api/v1/groups with its members (contract §4.11); returns the group id."""
    status, body = await native.call("POST", "/groups", {"name": name, "addUsers": list(det_ids)})
    if status != 200:
        raise LoadError(f"POST /api/v1/groups {name!r} answered {status}: {body}")
    return int(body["group"]["groupId"])
