"""Where the shared/ checkout is (the external conformance suites, the IdPs' scenario captures).

One rule for .ci/run, conformance/run_conformance.py and tests/idp: ``$SCIM_BRIDGE_SHARED``, else
``shared/`` beside the clone, else this workplace's ``/work/shared``. ``python -m conformance.shared_checkout``
prints it, for the shell.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
WORKPLACE_SHARED: Final = Path("/work/shared")


def shared_dir() -> Path:
    """The shared/ checkout; where none exists, the place beside the clone (callers name what is missing)."""
    if os.environ.get("SCIM_BRIDGE_SHARED"):
        return Path(os.environ["SCIM_BRIDGE_SHARED"]).resolve()
    beside = ROOT.parent / "shared"
    return next((p for p in (beside, WORKPLACE_SHARED) if p.is_dir()), beside)


if __name__ == "__main__":
    print(shared_dir())
