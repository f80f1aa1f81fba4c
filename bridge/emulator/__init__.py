"""In-process emulator of the Determined master's user, group, auth and token REST API."""

from bridge.emulator.app import create_emulator_app
from bridge.emulator.config import EmulatorConfig
from bridge.emulator.faults import FaultPlan, Faults
from bridge.emulator.keys import EMULATOR_STATE
from bridge.emulator.state import EmulatorState

__all__ = [
    "EMULATOR_STATE",
    "EmulatorConfig",
    "EmulatorState",
    "FaultPlan",
    "Faults",
    "create_emulator_app",
]
