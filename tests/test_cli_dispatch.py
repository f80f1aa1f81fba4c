"""Every ``scim-bridge`` subcommand the parser accepts has exactly one handler in the dispatch tables."""

from __future__ import annotations

import argparse

import pytest

from bridge import __version__
from bridge.__main__ import _WITH_CONFIG, _WITHOUT_CONFIG, _parser, main


def _subcommands() -> set[str]:
    actions = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    return set(actions[0].choices)


def test_each_subcommand_has_one_handler() -> None:
    assert not set(_WITH_CONFIG) & set(_WITHOUT_CONFIG)
    assert set(_WITH_CONFIG) | set(_WITHOUT_CONFIG) == _subcommands()
    assert {
        "serve",
        "demo",
        "emulator",
        "check",
        "db",
        "reconcile",
        "adopt",
        "import-builtin",
    } <= _subcommands()
    assert {"version", "status", "bootstrap"} <= _subcommands()


def test_version_needs_no_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out == f"scim-bridge {__version__}\n"
