"""Configuration of the Determined master emulator."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Emulator switches: RBAC reporting, seed users' password, admin fault endpoint, fault RNG seed."""

    rbac: bool = False
    initial_password: str = ""
    admin_endpoint: bool = False
    seed: int = 0
