"""Fault plan for tests and benchmarks: latency, error rate, resets, outage, throttling (seeded)."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What to inject; rates are probabilities per request in [0, 1]."""

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    reset_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after: int = 1
    outage: bool = False


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do with one request."""

    delay_s: float
    action: str  # "pass", "outage", "error", "reset" or "throttle"


class Faults:
    """Mutable holder of the fault plan; every draw comes from one RNG seeded at construction."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self.plan = FaultPlan()

    def configure(
        self,
        *,
        latency_ms: float | None = None,
        latency_jitter_ms: float | None = None,
        error_rate: float | None = None,
        error_status: int | None = None,
        reset_rate: float | None = None,
        throttle_rate: float | None = None,
        retry_after: int | None = None,
        outage: bool | None = None,
        seed: int | None = None,
    ) -> FaultPlan:
        """Change the given settings (others keep their value); `seed` restarts the RNG."""
        changes: dict[str, Any] = {
            key: value
            for key, value in {
                "latency_ms": latency_ms,
                "latency_jitter_ms": latency_jitter_ms,
                "error_rate": error_rate,
                "error_status": error_status,
                "reset_rate": reset_rate,
                "throttle_rate": throttle_rate,
                "retry_after": retry_after,
                "outage": outage,
            }.items()
            if value is not None
        }
        plan = replace(self.plan, **changes)
        for name in ("error_rate", "reset_rate", "throttle_rate"):
            if not 0.0 <= float(getattr(plan, name)) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")
        if plan.latency_ms < 0 or plan.latency_jitter_ms < 0 or plan.retry_after < 0:
            raise ValueError("latency and retry_after must not be negative")
        if not 400 <= plan.error_status <= 599:
            raise ValueError("error_status must be an HTTP error status")
        self.plan = plan
        if seed is not None:
            self._seed = seed
            self._rng = random.Random(seed)
        return plan

    def clear(self) -> None:
        """No faults, RNG restarted from the seed."""
        self.plan = FaultPlan()
        self._rng = random.Random(self._seed)

    def snapshot(self) -> dict[str, Any]:
        """The plan as JSON for the admin endpoint."""
        return {**asdict(self.plan), "seed": self._seed}

    def decide(self) -> FaultDecision:
        """Draw the fate of one request (draw order is fixed, so runs replay under one seed)."""
        plan = self.plan
        delay_ms = plan.latency_ms
        if plan.latency_jitter_ms:
            delay_ms += self._rng.uniform(0.0, plan.latency_jitter_ms)
        if plan.outage:
            return FaultDecision(delay_ms / 1000.0, "outage")
        action = "pass"
        if plan.reset_rate and self._rng.random() < plan.reset_rate:
            action = "reset"
        elif plan.throttle_rate and self._rng.random() < plan.throttle_rate:
            action = "throttle"
        elif plan.error_rate and self._rng.random() < plan.error_rate:
            action = "error"
        return FaultDecision(delay_ms / 1000.0, action)
