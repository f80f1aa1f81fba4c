"""Application keys of the emulator app."""

from __future__ import annotations

from aiohttp import web

from bridge.emulator.state import EmulatorState

EMULATOR_STATE = web.AppKey("emulator_state", EmulatorState)
