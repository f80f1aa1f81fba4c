"""The mass-retirement guard: whether one repair pass may retire the user.missing mappings it found, and re-create
the group.deleted groups it found.

Each retirement is confirmed by the master's own "user not found", which a wrong but healthy master (an old
backup, a staging master, a reset database still holding the bridge's account) answers for every mapped user.
So a pass finding too many, by count or as a share of the mapped users, retires none, and changes nothing else
on that master (docs/reliability.md). The same master lacks every mapped group too, and restoring them would
write the IdP's groups into it: so the same bounds hold, separately, for the groups a pass would re-create.

A wrong master whose own users and groups happen to hold ids the mappings hold (its sequences start from 1 too)
shows those mappings as user.renamed / group.renamed, not gone, and a rename's repair would rename its accounts
and groups to the IdP's names: a foreign "stranger" would become "alice", with stranger's password and
sessions. So renames count toward the same bound, together with the gone ones of the same resource; an admin
renaming a user or two on the right master stays within it and is repaired as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# The share bound never refuses this many: in a directory of a few users a single ghost is already a large
# share, and one retirement is what any write naming that user does anyway. `max_retire: 0` refuses even one.
RETIRE_FLOOR: Final = 1
# The resources the guard counts: mapped users the master lacks (retired) and mapped groups it lacks (re-created).
USERS: Final = "User"
GROUPS: Final = "Group"


@dataclass(frozen=True, slots=True)
class RetireGuard:
    """The bounds of one pass; None for either is no bound (`--allow-mass-retire` lifts both)."""

    max_retire: int | None
    max_fraction: float | None = None

    def refusal(
        self, missing: int, mapped: int, resource: str = USERS, renamed: int = 0
    ) -> RetireRefusal | None:
        """The refusal for a pass finding `missing` of its `mapped` live mappings of `resource` gone and `renamed`
        others renamed on the master; None if it may retire (users) or re-create (groups) the gone ones and
        rename the others back. The count is checked first: it is the bound that matters for a large directory."""
        counted = missing + renamed
        if self.max_retire is not None and counted > self.max_retire:
            return RetireRefusal(self, missing, mapped, "reconcile.max_retire", resource, renamed=renamed)
        if self.max_fraction is not None and counted > max(RETIRE_FLOOR, self.max_fraction * mapped):
            return RetireRefusal(
                self, missing, mapped, "reconcile.max_retire_fraction", resource, renamed=renamed
            )
        return None

    def first_refusal(
        self, users: tuple[int, int], groups: tuple[int, int], renamed: tuple[int, int] = (0, 0)
    ) -> RetireRefusal | None:
        """The refusal for (missing, mapped) users, else for (missing, mapped) groups, each counted with its
        renamed ones in `renamed` (users, groups); None if both are allowed."""
        return self.refusal(*users, USERS, renamed[0]) or self.refusal(*groups, GROUPS, renamed[1])


@dataclass(frozen=True, slots=True)
class RetireRefusal:
    """Why a pass may not retire the `missing` user.missing mappings it found among `mapped` live ones (or
    re-create the `missing` group.deleted groups among `mapped`, `resource` "Group"), nor rename back the
    `renamed` others: together more than the guard's bound named `setting` allows."""

    guard: RetireGuard
    missing: int
    mapped: int
    setting: str
    resource: str = USERS
    # Of the `missing` groups, those a run of intents would forget (a pending DELETE completed: the mapping is
    # dropped) rather than re-create (a PATCH/PUT restored); a pass only re-creates.
    forgotten: int = 0
    # Mappings whose Determined object the master holds under another name, counted with `missing`: a pass
    # would rename them back, which on a wrong master renames its own users and groups (see the module doc).
    renamed: int = 0

    @property
    def counted(self) -> int:
        """What the guard weighed against its bound: the gone mappings and the renamed ones."""
        return self.missing + self.renamed

    @property
    def recreated(self) -> int:
        """The groups this run would re-create on the master (none for users)."""
        return self.missing - self.forgotten if self.resource == GROUPS else 0

    def bound(self) -> str:
        """The bound exceeded, as the operator sets it: `reconcile.max_retire (10)`, or the share with the
        count it came to."""
        if self.setting == "reconcile.max_retire":
            return f"{self.setting} ({self.guard.max_retire})"
        return f"{self.setting} ({self.guard.max_fraction:g}) of the {self.mapped} mapped"

    def log_fields(self) -> dict[str, object]:
        """Fields of the ``reconcile.retire_refused`` event; the mapped count is `users_checked` or
        `groups_checked`, as the pass's summary names it, and for groups what would have happened to them."""
        fields: dict[str, object] = {
            "resource": self.resource,
            "missing": self.missing,
            "renamed": self.renamed,
            "counted": self.counted,
        }
        if self.resource == GROUPS:
            fields |= {
                "recreated": self.recreated,
                "forgotten": self.forgotten,
                "groups_checked": self.mapped,
            }
        else:
            fields["users_checked"] = self.mapped
        return fields | {
            "bound": self.setting,
            "max_retire": self.guard.max_retire,
            "max_retire_fraction": self.guard.max_fraction,
        }

    def users_found(self) -> str:
        """What the refused run found of the users and would have done with them, for the operator."""
        if self.renamed == 0:
            return f"{self.missing} mapped users' Determined users are gone"
        renamed = "hold another userName on the master and would be renamed back"
        if self.missing == 0:
            return f"{self.renamed} mapped users' Determined users {renamed}"
        return (
            f"{self.counted} mapped users' Determined users are gone or renamed: {self.missing} are gone and "
            f"{self.renamed} {renamed}"
        )

    def groups_found(self) -> str:
        """What the refused run found of the groups and would have done with them, for the operator."""
        if self.missing == 0 and self.renamed:
            return f"{self.renamed} mapped groups hold another name on the master and would be renamed back"
        gone = f"{self.missing} mapped groups are gone"
        if self.forgotten == 0:
            found = f"{gone} and would be re-created"
        elif self.recreated == 0:
            found = f"{gone} and pending DELETEs would forget their mappings"
        else:
            found = (
                f"{gone}: {self.recreated} would be re-created "
                f"and {self.forgotten} forgotten by pending DELETEs"
            )
        if self.renamed == 0:
            return found
        return f"{found}, and {self.renamed} more hold another name on the master and would be renamed back"
