"""The create and deactivate calls the write benchmarks send through a SCIM front or natively, in one place.

A create POSTs user ``{prefix}{seq}@bench.example`` and keeps the id the answer gives; the deactivate of ``seq``
PATCHes ``active`` to false on the ``seq``-th user created, so a window of deactivations needs as many
creates before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.clients import HttpSide, native_user_doc, patch_body, user_doc
from bench.loadgen import Call

_INACTIVE = patch_body({"op": "replace", "path": "active", "value": False})


@dataclass(frozen=True, slots=True)
class WriteCalls:
    """A create and a deactivate through one way in; `made` holds the ids the creates got, in order."""

    create: Call
    deactivate: Call
    made: list[str] = field(default_factory=list)


def scim_write_calls(side: HttpSide, prefix: str) -> WriteCalls:
    """Through a SCIM front (the bridge, the floor): POST /Users, PATCH /Users/{id}."""
    made: list[str] = []

    async def create(seq: int) -> int:
        status, body = await side.call("POST", "/Users", user_doc(f"{prefix}{seq}@bench.example", seq))
        if status == 201:
            made.append(str(body["id"]))
        return status

    async def deactivate(seq: int) -> int:
        return await side.status("PATCH", f"/Users/{made[seq]}", _INACTIVE)

    return WriteCalls(create, deactivate, made)


def native_write_calls(native: HttpSide, prefix: str) -> WriteCalls:
    """On the emulator's REST API: POST /users, PATCH /users/{id}."""
    made: list[str] = []

    async def create(seq: int) -> int:
        status, body = await native.call(
            "POST", "/users", native_user_doc(f"{prefix}{seq}@bench.example", seq)
        )
        if status == 200:
            made.append(str(body["user"]["id"]))
        return status

    async def deactivate(seq: int) -> int:
        return await native.status("PATCH", f"/users/{made[seq]}", {"active": False})

    return WriteCalls(create, deactivate, made)
