"""The mass-retirement guard: whether one repair pass may retire the user.missing mappings it found.

Each retirement is confirmed by the master's own "user not found", which a wrong but healthy master (an old
backup, a staging master, a reset database still holding the bridge's account) answers for every mapped user.
So a pass finding too many retires none, and changes nothing else on that master (docs/reliability.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetireRefusal:
    """Why a pass may not retire the `missing` user.missing mappings it found among `mapped` live ones: more
    than `limit`, the bound set by `setting`."""

    missing: int
    mapped: int
    setting: str
    limit: int

    def log_fields(self) -> dict[str, object]:
        """Fields of the ``reconcile.retire_refused`` event."""
        return {"missing": self.missing, "max_retire": self.limit, "users_checked": self.mapped}


@dataclass(frozen=True, slots=True)
class RetireGuard:
    """The bound of one pass; None is no bound (the operator's `--allow-mass-retire`)."""

    max_retire: int | None

    def refusal(self, missing: int, mapped: int) -> RetireRefusal | None:
        """The refusal for a pass finding `missing` of its `mapped` live mappings gone; None if it may retire
        them all."""
        if self.max_retire is not None and missing > self.max_retire:
            return RetireRefusal(missing, mapped, "reconcile.max_retire", self.max_retire)
        return None
