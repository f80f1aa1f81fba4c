"""The pending intents this process's own requests left behind when they ended, so the IdP's retry settles them.

A write whose master call ended ambiguously (a timeout after sending, a lost answer, a 200 off the contract, a
store failure the master could not be made to forget) leaves its intent pending and the IdP retries. Resolution
elsewhere waits ``reconcile.intent_grace`` (a younger intent may belong to a request still in flight), so for
two minutes a retried create met its own first attempt's user on the master, unmapped, and heard 409 with no
user behind its follow-up filter. This process knows which of its requests are over: their intents are recorded
here, under the lock key a retry of the same write takes (``user-name:<name>`` for a create, ``user:<id>`` for
the rest; a create whose object another writer mapped meanwhile also under that mapping's key, which the IdP's
write after its filter holds), and the next write holding that lock resolves them before it lets go of it.

They are resolved after the retry's own write, not before: the master may still apply a create it timed out on
(a late landing), and an intent rolled back before the retry's create could then leave that user unmapped for
good. After a retry whose create succeeded, or met the name taken (the master's or the store's duplicate), the
name is held on the master, so the first attempt can no longer land: resolution maps it (it landed) or rolls it
back. After a retry that failed otherwise the name may still be free and a first attempt whose call got no
answer still on its way: resolution maps it if the master shows it, and otherwise keeps it pending (the next
retry asks again, the background after the grace decides). An update or delete retried is applied again from the store's state, and
the earlier attempt's restore runs after it; resolving it first would put the master back in between (a
deactivated user briefly active again). That restore cannot stop an earlier call that got no answer from
landing later, so such an intent stays pending until the grace: each later write of the resource restores
again, and the background's restore past the grace overwrites whatever landed with the store's, that is the
newest, state. Intents of requests still in flight never get here, nor do another process's: both keep the
grace rule.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from types import TracebackType

from bridge.scim.errors import Uniqueness

# Resolves intents of ended requests (the ids; those of them whose master write may still land, the master still
# applying a call that got no answer; whether the holder's write left the name it locks taken on the master:
# `_Settling`); returns the ids of those still pending (the master could not be asked, or a write of theirs may
# still land).
Settle = Callable[[Collection[int], Collection[int], bool], Awaitable[Collection[int]]]


class EndedIntents:
    """Intent ids by the lock key a retry holds; each kept at most ``keep_s`` seconds, after which the background
    resolution (older than ``reconcile.intent_grace``) takes it, so the map stays as small as the recent failures."""

    __slots__ = ("_by_key", "_keep_s", "_landing", "_order", "_settle")

    def __init__(self, settle: Settle, keep_s: float) -> None:
        self._settle = settle
        self._keep_s = keep_s
        self._by_key: dict[str, set[int]] = {}
        # The noted intents whose master write may still land.
        self._landing: set[int] = set()
        self._order: deque[tuple[float, str, int]] = deque()

    def ended(self, left: Collection[tuple[str, int, bool]]) -> None:
        """A request ended leaving these (retry key, intent id, whether its master write may still land) pending."""
        now = time.monotonic()
        order = self._order
        while order and order[0][0] < now - self._keep_s:
            _at, key, intent = order.popleft()
            self._drop(key, {intent})
        for key, intent, landing in left:
            self._by_key.setdefault(key, set()).add(intent)
            if landing:
                self._landing.add(intent)
            order.append((now, key, intent))

    def settling(self, key: str) -> _Settling:
        """``async with`` around a write holding `key`'s lock: on the way out, resolve what ended requests of
        that key left pending (nothing but a dict lookup when there is none)."""
        return _Settling(self, key)

    async def _settle_key(self, key: str, name_taken: bool) -> None:
        ids = self._by_key.get(key)
        if not ids:
            return
        asked = frozenset(ids)
        left = await self._settle(asked, asked.intersection(self._landing), name_taken)
        self._drop(key, asked.difference(left))

    def _drop(self, key: str, intents: Collection[int]) -> None:
        self._landing.difference_update(intents)
        ids = self._by_key.get(key)
        if ids is None:
            return
        ids.difference_update(intents)
        if not ids:
            del self._by_key[key]


class _Settling:
    """The ``async with`` of `EndedIntents.settling` (a class: see consistency._StoreErrors)."""

    __slots__ = ("_ended", "_key")

    def __init__(self, ended: EndedIntents, key: str) -> None:
        self._ended = ended
        self._key = key

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, _type: type[BaseException] | None, exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        # Not while the request is being cancelled (the IdP went away, shutdown): the next holder does it.
        if self._key in self._ended._by_key and (exc is None or isinstance(exc, Exception)):
            # A create or relink that succeeded holds its name on the master now, and a 409 says something else
            # does (the master's duplicate, or the store's live mapping, which has its user there). Any other
            # failure may leave the name free, for an earlier attempt still on its way to take. (For the keys
            # of updates, what they settle is no create: the flag does not matter there.)
            await self._ended._settle_key(self._key, exc is None or isinstance(exc, Uniqueness))
