"""conformance/shared_checkout.py: the one place .ci/run, the conformance runner and tests/idp find shared/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.shared_checkout import ROOT, shared_dir


def test_the_environment_names_the_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCIM_BRIDGE_SHARED", str(tmp_path))
    assert shared_dir() == tmp_path.resolve()


def test_the_shell_is_told_the_same_place(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """.ci/run reads the path from `python -m conformance.shared_checkout` rather than keeping a copy."""
    monkeypatch.setenv("SCIM_BRIDGE_SHARED", str(tmp_path))
    printed = subprocess.run(
        [sys.executable, "-m", "conformance.shared_checkout"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert printed == f"{tmp_path.resolve()}\n"
