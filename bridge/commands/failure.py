"""The operator's line when a command stops because the mapping database or the master could not be used.

It names which of the two failed, since the fixes differ (the database file, its lock or disk; the master's
URL, credential or health). The master binding's session check raises a MasterError for a failure of the
database (MasterUnverified), so the exception's class alone would blame the master.
"""

from __future__ import annotations

from bridge.config import Settings
from bridge.determined import MasterError, MasterMismatch, MasterUnverified
from bridge.provisioning.binding import REBIND_HINT
from bridge.store import StoreError


def unusable(exc: MasterError | StoreError, settings: Settings) -> str:
    """What could not be used, and the error; the exit status stays the caller's."""
    database = f"the database {settings.database.path} could not be used"
    if isinstance(exc, MasterUnverified):
        cause = exc.__cause__
        detail = f": {cause}" if isinstance(cause, StoreError) and str(cause) else ""
        return f"{database}: {exc.message}{detail}"
    if isinstance(exc, StoreError):
        return f"{database}: {type(exc).__name__}: {exc}"
    if isinstance(exc, MasterMismatch):
        return f"refused: {exc}; {REBIND_HINT}"
    return f"the master could not be used: {type(exc).__name__}: {exc}"
