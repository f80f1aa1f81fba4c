"""The operator's message when the retirement guard refuses: what was not done, what to check, how to override.

Shared by ``reconcile`` (a refused repair pass or dry run) and ``adopt`` / ``import-builtin`` (intent resolution
refused before adopting), so both name the bound and the same way out.
"""

from __future__ import annotations

from typing import TextIO

from bridge.reconcile import RetireRefusal
from bridge.reconcile.guard import USERS


def print_refusal(refusal: RetireRefusal, outcome: str, out: TextIO) -> None:
    """Print the ``REFUSED:`` lines; `outcome` says what the command therefore did not do."""
    if refusal.resource == USERS:
        found, what = refusal.users_found(), "users"
    else:
        found, what = refusal.groups_found(), "groups"
    # Renames are counted with the gone ones (guard.py): the override repairs both, so it confirms both.
    really = "gone or renamed" if refusal.renamed else "gone"
    print(
        f"REFUSED: {found}, more than {refusal.bound()} in one pass; {outcome}.\n"
        f"  Check that master.url is the Determined master these {what} were provisioned on (not one restored "
        "from an old backup, a staging master or a freshly reset one).\n"
        f"  If they really are {really}, run `scim-bridge reconcile --repair --allow-mass-retire` once, or raise "
        f"{refusal.setting}.",
        file=out,
    )
