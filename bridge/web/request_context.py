"""What the middlewares and handlers of one request share, kept in one object under one request key."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web


@dataclass(slots=True)
class RequestContext:
    """Built by the context middleware (the outermost) for each request; authentication fills in `client`.

    One object read once per middleware instead of a key each: ``request.get(key)`` runs the Mapping mixin's
    ``get`` around aiohttp's ``__getitem__`` (~2.5k instructions), and ``request.match_info.route`` two
    properties (~1k), in each of the context, metrics and authentication middlewares and for each caller.
    """

    request_id: str
    # The matched route (an unmatched request's is a route object of its own).
    route: web.AbstractRoute
    # The authenticated IdP client (or the one a token was issued to); None until then.
    client: str | None = None
