"""Scaling of the SCIM core: filter parsing/compiling and PATCH application at n = 100, 1,000, 10,000.

Run with `.venv/bin/python bench/bench_scim_core.py`. Linear behaviour shows as a flat "µs per item" column
and a time ratio close to the size ratio (10x per row).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bridge.scim.filters import Filter, SqlMapping, compile_sql, format_filter, matches, parse_filter
from bridge.scim.patch import apply_patch, parse_patch
from bridge.scim.schemas import GROUP_SCHEMA, USER_SCHEMA, ResourceSchema

SIZES = (100, 1_000, 10_000)
MAPPING = SqlMapping("u.doc", {"username": "u.user_name", "externalid": "u.external_id"})
DOC: dict[str, object] = {
    "schemas": [],
    "id": "u1",
    "userName": "bjensen",
    "emails": [{"value": "a@x", "type": "work"}],
}


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def filter_text(n: int) -> str:
    parts = []
    for i in range(n):
        parts.append(f'userName eq "user{i}"' if i % 3 else f'emails[type eq "work" and value co "@x{i}"]')
    return " or ".join(parts)


def patch_body(n: int) -> dict[str, object]:
    ops: list[dict[str, object]] = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            ops.append({"op": "Replace", "path": "title", "value": f"t{i}"})
        elif kind == 1:
            ops.append({"op": "add", "path": 'emails[type eq "work"].value', "value": f"u{i}@x"})
        elif kind == 2:
            ops.append({"op": "replace", "value": {"name.givenName": f"g{i}", "active": "True"}})
        else:
            ops.append({"op": "add", "path": "nickName", "value": str(i)})
    return {"Operations": ops}


def member_body(n: int) -> dict[str, object]:
    ops: list[dict[str, object]] = []
    for i in range(n):
        if i % 2:
            ops.append({"op": "Add", "path": "members", "value": [{"value": f"m{i}"}]})
        else:
            ops.append({"op": "remove", "path": f'members[value eq "m{i - 1}"]'})
    return {"Operations": ops}


def row(label: str, measure: Callable[[int], float]) -> None:
    times = [measure(n) for n in SIZES]
    cells = []
    for i, (n, t) in enumerate(zip(SIZES, times, strict=True)):
        ratio = f" x{t / times[i - 1]:5.1f}" if i else "       "
        cells.append(f"{t * 1e3:9.2f} ms {t / n * 1e6:7.2f} µs/item{ratio}")
    print(f"{label:<34}" + " | ".join(cells))


def on_filter(op: Callable[[Filter], object]) -> Callable[[int], float]:
    """Time `op` on an already parsed n-clause filter."""

    def measure(n: int) -> float:
        parsed = parse_filter(filter_text(n))
        return best_of(lambda: op(parsed))

    return measure


def on_patch(
    make: Callable[[int], dict[str, object]], doc: dict[str, object], schema: ResourceSchema
) -> Callable[[int], float]:
    """Time parse_patch + apply_patch of an n-op body."""

    def measure(n: int) -> float:
        body = make(n)
        return best_of(lambda: apply_patch(doc, parse_patch(body), schema))

    return measure


def main() -> None:
    print(f"{'n =':<34}" + " | ".join(f"{n:>36}" for n in SIZES))
    row("parse_filter (n clauses)", lambda n: best_of(lambda: parse_filter(filter_text(n))))
    row("format_filter", on_filter(format_filter))
    row("compile_sql", on_filter(lambda f: compile_sql(f, USER_SCHEMA, MAPPING)))
    row("matches", on_filter(lambda f: matches(f, DOC, USER_SCHEMA)))
    row("parse_patch + apply_patch (user)", on_patch(patch_body, DOC, USER_SCHEMA))
    row(
        "member add/remove deltas (group)",
        on_patch(member_body, {"id": "g", "displayName": "G"}, GROUP_SCHEMA),
    )
    hot = 20_000
    start = time.perf_counter()
    for _ in range(hot):
        compile_sql(parse_filter('userName eq "bjensen@example.com"'), USER_SCHEMA, MAPPING)
    per = (time.perf_counter() - start) / hot
    print(f'\nOkta lookup `userName eq "…"` parse+compile: {per * 1e6:.1f} µs per request')


if __name__ == "__main__":
    main()
