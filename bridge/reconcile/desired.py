"""What the master should hold for a mapped user, computed the way provisioning writes it (master-api.md §7.2)."""

from __future__ import annotations

from collections.abc import Sequence

from bridge.provisioning.translate import display_name_candidates, display_name_for
from bridge.reconcile.detect import DisplayName
from bridge.store import UserRecord


def display_names(sources: Sequence[str]) -> DisplayName:
    """The acceptable master display names of a user, best first, per ``users.display_name_source``."""

    def candidates(record: UserRecord) -> Sequence[str]:
        return display_name_candidates(display_name_for(record.doc, sources), record.user_name)

    return candidates
