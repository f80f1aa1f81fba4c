"""The fuzz suite's examples are a function of its seed, not of which modules the session happened to import."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import KnownIds, requests
from tests.local_modules import ROOT, import_project_modules, project_packages


def stream_digest(extra_import: str) -> str:
    """Import `extra_import` (as another test module might at collection), then digest a derandomized stream."""
    if extra_import:
        __import__(extra_import)
    import_project_modules()
    drawn: list[str] = []

    @settings(derandomize=True, max_examples=150, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(requests(KnownIds(users=("u1", "u2"), groups=("g1",))), min_size=10, max_size=10))
    def draw(batch: list[object]) -> None:
        drawn.append(repr(batch))

    draw()
    return hashlib.sha256("\n".join(drawn).encode()).hexdigest()


def _digest_in_fresh_process(extra_import: str) -> str:
    code = (
        f"from tests.fuzz.test_fuzz_determinism import stream_digest; print(stream_digest({extra_import!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False, timeout=300
    )
    # The child's own traceback, not only its exit status: a failure here once went unexplained.
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stderr[-4000:]}"
    return result.stdout.strip()


def test_draws_do_not_depend_on_modules_imported_before_fuzzing() -> None:
    # Importing bridge.commands.reconcile at collection used to change every fuzz example after the first few.
    assert _digest_in_fresh_process("") == _digest_in_fresh_process("bridge.commands.reconcile")


def test_every_project_module_is_loaded_before_fuzzing() -> None:
    """Nothing the bridge imports lazily mid-run (the CLI's commands) can add literals to Hypothesis's pool."""
    import_project_modules()
    files = (getattr(module, "__file__", None) for module in list(sys.modules.values()))
    loaded = {Path(file).resolve() for file in files if file}
    for package in project_packages():
        for path in (ROOT / package).rglob("*.py"):
            if _importable(path, ROOT / package):
                assert path.resolve() in loaded, path


def _importable(path: Path, package_root: Path) -> bool:
    """A module of the package: every directory from the package root down to it is a package.

    Tool installs and outputs under a package (``make conformance`` puts scripts in conformance/.home/)
    are files, not modules, and nothing imports them.
    """
    return all(
        (directory / "__init__.py").is_file()
        for directory in path.parents
        if directory.is_relative_to(package_root)
    )


def test_property_tests_run_without_deadline_on_a_fixed_sample() -> None:
    # tests/conftest.py's profile: a per-example deadline would be a timed assertion on a noisy machine, and
    # a random draw in CI could fail on a find nobody can replay.
    current = settings.default  # None only before any profile is loaded
    assert current is not None
    assert current.deadline is None
    assert current.derandomize is (os.environ.get("FUZZ_EXPLORE") != "1")
    assert current.print_blob is True
