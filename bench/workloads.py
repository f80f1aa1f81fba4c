"""Okta-style import, the scim2-server peer comparison and the mixed IdP workload (Entra's gallery bound)."""

from __future__ import annotations

import random
import time
from typing import Any, Final
from urllib.parse import quote

from bench.clients import HttpSide, members_add, native_user_doc, patch_body, user_doc
from bench.directory import Directory, create_scim_group, user_name
from bench.loadgen import Call, closed_loop, open_loop
from bench.overhead import CpuProbe, Sides, run_rounds
from bench.plan import Plan
from bench.rounds import median_ratio, peer_row, ratio, side_summary, spread

MIXED_GROUPS: Final = 8
ENTRA_RATE: Final = 25.0  # requests/s a gallery app must sustain (Entra's SCIM provisioning guidance)
# Share of each operation in the mixed workload, shaped after shared/idp/idp-traffic.md: IdPs look users up by
# filter before most writes, PATCH far more than they POST, and push group membership as PATCH deltas.
MIX: Final = (
    ("filter_user", 35),
    ("get_user", 10),
    ("create_user", 10),
    ("patch_user", 20),
    ("deactivate_user", 5),
    ("group_member_add", 15),
    ("filter_group", 5),
)


async def okta_import(plan: Plan, sides: Sides) -> dict[str, Any]:
    """Per new user: Okta's `userName eq` lookup then POST, vs the native lookup by name then POST.

    `plan.rounds` rounds of `plan.import_users` users per side in ABBA order; each side's figures are the
    medians over rounds, the wall-time ratio the median of the per-round ratios (with their min-max).
    """
    k = plan.import_users

    async def bridge(seq: int) -> int:
        name = f"import-scim-{seq}@bench.example"
        await sides.bridge.status("GET", "/Users?filter=" + quote(f'userName eq "{name}"'))
        return await sides.bridge.status("POST", "/Users", user_doc(name, seq))

    async def native(seq: int) -> int:
        name = f"import-native-{seq}@bench.example"
        await sides.native.status("GET", f"/users/{quote(name)}/by-username")  # 404: not there yet
        return await sides.native.status("POST", "/users", native_user_doc(name, seq))

    rounds = await run_rounds(
        plan,
        bridge,
        native,
        sides,
        count=k,
        concurrency=plan.import_concurrency,
        first=0,
        max_seconds=plan.cell_seconds * 10,
    )
    walls = [ratio(r.bridge.seconds, r.native.seconds) for r in rounds]
    return {
        "users": k,
        "concurrency": plan.import_concurrency,
        "bridge": side_summary([r.bridge for r in rounds]),
        "native": side_summary([r.native for r in rounds]),
        "wall_time_ratio": median_ratio(walls),
        "spread": {"wall_time_ratio": spread(walls)},
        "rounds": [r.as_dict() for r in rounds],
    }


def read_calls(side: HttpSide, scim_ids: list[str], n: int, rng: random.Random) -> dict[str, Call]:
    """The peer read workload on one SCIM server: GET by id, `userName eq` filter, last page of 100."""
    picks = [rng.randrange(n) for _ in range(997)]

    async def get_user(seq: int) -> int:
        return await side.status("GET", f"/Users/{scim_ids[picks[seq % len(picks)]]}")

    async def filter_user(seq: int) -> int:
        name = user_name(picks[seq % len(picks)])
        return await side.status("GET", "/Users?filter=" + quote(f'userName eq "{name}"'))

    async def page_deep(seq: int) -> int:
        return await side.status("GET", f"/Users?startIndex={max(1, n - 99)}&count=100")

    return {"get_user": get_user, "filter_username_eq": filter_user, "page_deep": page_deep}


async def peer_reads(
    plan: Plan, sides: Sides, directory: Directory, peer_ids: list[str], settle_on: CpuProbe
) -> dict[str, Any]:
    """The same read workload, same data size, against the bridge and against scim2-server.

    `sides.native` is the peer here. Each operation runs `plan.rounds` rounds of `plan.peer_round_requests`
    requests per side in ABBA order; a row reports the medians and the median per-round throughput ratio
    with its min-max (bench.rounds.peer_row). `settle_on` is every server's CPU time (bridge, emulator, peer).
    """
    n = len(peer_ids)
    ours = read_calls(sides.bridge, directory.scim_ids[:n], n, random.Random(7))
    theirs = read_calls(sides.native, peer_ids, n, random.Random(7))
    rows = []
    for op, call in ours.items():
        rounds = await run_rounds(
            plan,
            call,
            theirs[op],
            sides,
            count=plan.peer_round_requests,
            concurrency=plan.peer_concurrency,
            first=0,
            max_seconds=plan.cell_seconds,
            settle_on=settle_on,
        )
        rows.append(peer_row(op, rounds))
    return {"n": n, "concurrency": plan.peer_concurrency, "rows": rows}


def mixed_call(
    bridge: HttpSide, directory: Directory, groups: list[str], rng: random.Random, tag: str
) -> Call:
    """A Call that draws one operation of MIX per request."""
    ops = [op for op, weight in MIX for _ in range(weight)]
    n = directory.size

    async def call(seq: int) -> int:
        op = ops[rng.randrange(len(ops))]
        who = directory.scim_ids[rng.randrange(n)]
        if op == "filter_user":
            name = user_name(rng.randrange(n))
            return await bridge.status("GET", "/Users?filter=" + quote(f'userName eq "{name}"'))
        if op == "get_user":
            return await bridge.status("GET", f"/Users/{who}")
        if op == "create_user":
            return await bridge.status("POST", "/Users", user_doc(f"mixed-{tag}-{seq}@bench.example", seq))
        if op == "patch_user":
            body = patch_body({"op": "replace", "path": "displayName", "value": f"Mixed {tag} {seq}"})
            return await bridge.status("PATCH", f"/Users/{who}", body)
        if op == "deactivate_user":
            return await bridge.status(
                "PATCH", f"/Users/{who}", patch_body({"op": "replace", "path": "active", "value": False})
            )
        if op == "group_member_add":
            return await bridge.status(
                "PATCH", f"/Groups/{groups[seq % len(groups)]}", patch_body(members_add([who]))
            )
        name = f"mixed-{rng.randrange(len(groups))}"
        return await bridge.status(
            "GET", "/Groups?filter=" + quote(f'displayName eq "{name}"') + "&excludedAttributes=members"
        )

    return call


async def mixed(plan: Plan, bridge: HttpSide, directory: Directory) -> dict[str, Any]:
    """Closed loop for the ceiling, then paced (25 req/s in quick and full runs) for p99; headroom = ceiling / 25."""
    groups = [await create_scim_group(bridge, f"mixed-{g}", []) for g in range(MIXED_GROUPS)]
    rng = random.Random(11)
    started = time.perf_counter()
    ceiling = await closed_loop(
        mixed_call(bridge, directory, groups, rng, "c"),
        requests=plan.mixed_requests,
        concurrency=plan.mixed_concurrency,
        max_seconds=plan.cell_seconds,
    )
    paced = await open_loop(
        mixed_call(bridge, directory, groups, rng, "p"), rate=plan.paced_rate, seconds=plan.paced_seconds
    )
    return {
        "mix": dict(MIX),
        "concurrency": plan.mixed_concurrency,
        "ceiling": ceiling.as_dict(),
        "paced_rate": plan.paced_rate,
        "paced": paced.as_dict(),
        "headroom": ratio(ceiling.throughput, ENTRA_RATE),
        "seconds": round(time.perf_counter() - started, 2),
    }
