"""Configuration of the Determined master emulator."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Emulator switches: RBAC reporting, seed users' password, admin fault endpoint, fault RNG seed, and the
    ``clusterId`` it reports (one per installation on a real master; give a second emulator another to stand
    for another cluster)."""

    rbac: bool = False
    initial_password: str = ""
    admin_endpoint: bool = False
    seed: int = 0
    cluster_id: str = "emulator-cluster"
