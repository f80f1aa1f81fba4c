"""Basic vs RBAC authorization texts (contract §5.6); in RBAC mode admins hold every permission."""

from __future__ import annotations

from bridge.emulator.errors import MasterError, denied
from bridge.emulator.records import UserRecord


def require_admin(user: UserRecord, *, rbac: bool, basic_message: str, permission: str) -> None:
    """Raise 403 unless the caller is an admin, with the mode's wording."""
    if user.admin:
        return
    raise forbidden(rbac=rbac, basic_message=basic_message, permission=permission)


def forbidden(*, rbac: bool, basic_message: str, permission: str) -> MasterError:
    """The 403 a non-admin gets."""
    if rbac:
        return denied(f"access denied; required permissions: PERMISSION_TYPE_{permission}")
    return denied(basic_message)
