"""Basic vs RBAC authorization texts (contract §5.6); in RBAC mode admins hold every permission."""

from __future__ import annotations

from bridge.emulator.errors import MasterError, denied, not_found
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


def unknown_user(*, rbac: bool) -> MasterError:
    """The 404 for a user the master does not have (§4.5): with the RBAC UI enabled the master appends its
    "check your permissions" hint to every not-found it could also give for a user the caller may not see."""
    return not_found("user not found, please check your permissions." if rbac else "user not found")
