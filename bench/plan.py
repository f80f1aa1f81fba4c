"""How big a run is: directory sizes, request counts and time bounds for quick, full and tiny (test) runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

# What a run can measure; `python -m bench --only SECTION` picks some (the directory is loaded for any but import).
SECTIONS: Final = ("overhead", "import", "scale", "memory", "peer", "mixed")


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes and bounded request counts of one benchmark run."""

    name: str
    sizes: tuple[int, ...]
    group_sizes: tuple[int, ...]
    # Overhead cells. Each runs `rounds` rounds of both sides after a warm-up of `warmup` requests per side;
    # a round's request count is what the faster side's warm-up rate says it needs to run `min_cell_seconds`
    # (CPU time comes in 10 ms ticks, throughput needs wall time), at least `reads`/`writes` and at most
    # `max_reads`/`max_writes`. All counts are for concurrency 32; concurrency 1 uses a quarter.
    rounds: int
    warmup: int
    min_cell_seconds: float
    reads: int
    writes: int
    max_reads: int
    max_writes: int
    # Scale curves and the peer comparison run `rounds` rounds of both sides too (no warm-up): requests per
    # side and round at each point of a scale curve (concurrency 1), and per side and round of a peer row.
    # 100 is the least count whose nearest-rank p99 is not simply the slowest request; the full plan's
    # 6 x 100 and 6 x 125 keep those sections within ~1.5x of their old single run of 500 (docs/performance.md).
    scale_round_requests: int
    import_users: int
    import_concurrency: int
    peer_size: int  # directory size at which the peer comparison runs (0: no peer)
    peer_round_requests: int
    peer_concurrency: int
    mixed_requests: int
    mixed_concurrency: int
    paced_rate: float
    paced_seconds: float
    cell_seconds: float  # upper bound of any one measured cell

    def at(self, concurrency: int, base: int) -> int:
        """Requests for a cell: `base` at high concurrency, a quarter (at least 10) at concurrency 1."""
        return base if concurrency > 1 else max(10, base // 4)

    def as_dict(self) -> dict[str, Any]:
        """JSON form for results.json."""
        return asdict(self)


QUICK = Plan(
    name="quick",
    sizes=(1_000, 10_000),
    group_sizes=(10, 1_000, 10_000),
    rounds=4,
    warmup=600,
    min_cell_seconds=0.5,
    reads=2_000,
    writes=400,
    max_reads=20_000,
    max_writes=6_000,
    scale_round_requests=100,
    import_users=300,
    import_concurrency=8,
    peer_size=1_000,
    peer_round_requests=100,
    peer_concurrency=4,
    mixed_requests=2_000,
    mixed_concurrency=16,
    paced_rate=25.0,
    paced_seconds=4.0,
    cell_seconds=20.0,
)

FULL = Plan(
    name="full",
    sizes=(1_000, 10_000, 100_000),
    group_sizes=(10, 1_000, 10_000),
    rounds=6,
    warmup=1_000,
    min_cell_seconds=0.5,
    reads=5_000,
    writes=1_000,
    max_reads=30_000,
    max_writes=8_000,
    scale_round_requests=100,
    import_users=1_000,
    import_concurrency=8,
    peer_size=10_000,
    peer_round_requests=125,
    peer_concurrency=4,
    mixed_requests=5_000,
    mixed_concurrency=16,
    paced_rate=25.0,
    paced_seconds=10.0,
    cell_seconds=60.0,
)


def tiny(users: int = 50) -> Plan:
    """A seconds-long run proving the harness end to end (tests/bench); its numbers mean nothing."""
    return Plan(
        name="tiny",
        sizes=(users // 2, users),
        group_sizes=(2, users // 2),
        rounds=2,
        warmup=10,
        min_cell_seconds=0.0,
        reads=40,
        writes=40,
        max_reads=40,
        max_writes=40,
        scale_round_requests=5,
        import_users=5,
        import_concurrency=2,
        peer_size=users // 2,
        peer_round_requests=5,
        peer_concurrency=2,
        mixed_requests=40,
        mixed_concurrency=4,
        paced_rate=20.0,
        paced_seconds=0.5,
        cell_seconds=10.0,
    )
