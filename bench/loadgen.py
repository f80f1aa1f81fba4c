"""A bounded, concurrent asyncio load generator: N requests over C workers, latency samples, failures."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import aiohttp

# One request of a workload: given the request's sequence number, send it and return the HTTP status.
Call = Callable[[int], Awaitable[int]]
MAX_FAILURE_SAMPLES: Final = 5


@dataclass(frozen=True, slots=True)
class Stats:
    """What one measured cell produced."""

    requests: int
    failures: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failure_samples: tuple[str, ...] = ()

    @property
    def throughput(self) -> float:
        """Completed requests per second of wall time."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, float | int | list[str]]:
        """The JSON form written to results.json."""
        return {
            "requests": self.requests,
            "failures": self.failures,
            "seconds": round(self.seconds, 4),
            "throughput_rps": round(self.throughput, 2),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "failure_samples": list(self.failure_samples),
        }


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted samples (0.0 for none)."""
    if not samples:
        return 0.0
    rank = math.ceil(fraction * len(samples))
    return samples[min(len(samples), max(1, rank)) - 1]


def stats_from(latencies: list[float], failures: list[str], seconds: float) -> Stats:
    """Summarise latency samples (seconds) into a Stats record."""
    ordered = sorted(latencies)
    return Stats(
        requests=len(latencies),
        failures=len(failures),
        seconds=seconds,
        p50_ms=percentile(ordered, 0.50) * 1e3,
        p99_ms=percentile(ordered, 0.99) * 1e3,
        failure_samples=tuple(failures[:MAX_FAILURE_SAMPLES]),
    )


async def _timed(call: Call, seq: int, latencies: list[float], failures: list[str]) -> None:
    start = time.perf_counter()
    try:
        status = await call(seq)
    except (aiohttp.ClientError, TimeoutError) as exc:
        failures.append(f"#{seq}: {type(exc).__name__}: {exc}")
        return
    latencies.append(time.perf_counter() - start)
    if status >= 400:
        failures.append(f"#{seq}: HTTP {status}")


async def closed_loop(
    call: Call, *, requests: int, concurrency: int, max_seconds: float, first: int = 0
) -> Stats:
    """Run `requests` calls (sequence numbers from `first` on) with `concurrency` workers; stop early after
    `max_seconds`."""
    latencies: list[float] = []
    failures: list[str] = []
    counter = iter(range(first, first + requests))
    start = time.perf_counter()
    deadline = start + max_seconds

    async def worker() -> None:
        for seq in counter:
            if time.perf_counter() > deadline:
                return
            await _timed(call, seq, latencies, failures)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, requests)))))
    return stats_from(latencies, failures, time.perf_counter() - start)


async def open_loop(call: Call, *, rate: float, seconds: float) -> Stats:
    """Start calls at a fixed `rate` per second for `seconds` (latency includes any queueing)."""
    latencies: list[float] = []
    failures: list[str] = []
    total = max(1, int(rate * seconds))
    start = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    for seq in range(total):
        delay = start + seq / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_timed(call, seq, latencies, failures)))
    await asyncio.gather(*tasks)
    return stats_from(latencies, failures, time.perf_counter() - start)
