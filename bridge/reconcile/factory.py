"""Build a Reconciler and an IntentResolver from settings: display-name rules, the accounts reconciliation never
touches, and which pending intents are old enough to resolve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.config import Settings
from bridge.determined import DeterminedClient
from bridge.reconcile.desired import display_names
from bridge.reconcile.guard import RetireGuard
from bridge.reconcile.intents import IntentResolver
from bridge.reconcile.reconciler import Mode, Reconciler
from bridge.reconcile.refusal_log import RefusalLog
from bridge.store import Store


async def build_reconciler(
    settings: Settings,
    store: Store,
    client: DeterminedClient,
    *,
    allow_mass_retire: bool = False,
    refusals: RefusalLog | None = None,
) -> Reconciler:
    """A Reconciler that ignores the built-in accounts and the bridge's own (master-api.md §7.3 item 5).

    It retires at most ``reconcile.max_retire`` user.missing mappings in a pass, and at most
    ``reconcile.max_retire_fraction`` of the mapped users (never fewer than one), unless the operator allows
    more (``reconcile --repair --allow-mass-retire``).
    """
    ignored = set(settings.users.protected_usernames)
    ignored.add((await client.me()).username)
    return Reconciler(
        store=store,
        client=client,
        display_name=display_names(settings.users.display_name_source),
        ignored_usernames=frozenset(ignored),
        retire_guard=retire_guard(settings, allow_mass_retire=allow_mass_retire),
        refusals=refusals or RefusalLog(),
    )


def retire_guard(settings: Settings, *, allow_mass_retire: bool = False) -> RetireGuard:
    """The bounds of ``reconcile.max_retire`` and ``reconcile.max_retire_fraction``, or none at all when the
    operator allows a mass retirement: one guard for passes and intent resolution alike."""
    if allow_mass_retire:
        return RetireGuard(None, None)
    return RetireGuard(settings.reconcile.max_retire, settings.reconcile.max_retire_fraction)


def build_intent_resolver(
    settings: Settings,
    store: Store,
    client: DeterminedClient,
    *,
    path: str,
    allow_mass_retire: bool = False,
    refusals: RefusalLog | None = None,
) -> IntentResolver:
    """An IntentResolver that writes display names as the users' settings say and retires no more mappings
    than a repair pass may; `path` names who resolves ("startup", "background", a CLI command) in its logs."""
    return IntentResolver(
        store,
        client,
        display_names(settings.users.display_name_source),
        retire_guard(settings, allow_mass_retire=allow_mass_retire),
        path,
        refusals or RefusalLog(),
    )


def intent_cutoff(settings: Settings) -> datetime:
    """Intents created before this are past ``reconcile.intent_grace``: a serving bridge's requests in flight
    are younger, so a process beside it resolves only older ones."""
    return datetime.now(UTC) - timedelta(seconds=settings.reconcile.intent_grace)


def mode_for(settings: Settings) -> Mode:
    """What the background pass may do under ``reconcile.policy``."""
    return Mode.REPAIR if settings.reconcile.policy == "idp_wins" else Mode.REPORT
