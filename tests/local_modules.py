"""Load every module of the project before any example, so what Hypothesis generates depends only on the seed.

Hypothesis (6.170 here) mixes literals mined from the project's own modules into its draws (its "local
constants"), taken from whatever project modules are in ``sys.modules`` when an example is generated. So
the fuzz examples (and every property test's) changed with which test modules the session had collected (importing
``bridge.commands.reconcile`` at collection gave a different derandomized stream), and a project module
imported during a run changed the draws between examples. Loading every project module first makes that
pool the same in every session and keeps it from growing mid-run.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]


def project_packages() -> list[str]:
    """The repository's top-level packages other than the tests (Hypothesis mines no test module)."""
    return sorted(
        path.name
        for path in ROOT.iterdir()
        if path.is_dir() and path.name != "tests" and (path / "__init__.py").is_file()
    )


def import_project_modules() -> list[str]:
    """Import every module of every project package; return their names."""
    names = []
    for package_name in project_packages():
        package = importlib.import_module(package_name)
        names.append(package_name)
        for module in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            importlib.import_module(module.name)
            names.append(module.name)
    return names
