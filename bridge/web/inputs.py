"""What a /Users or /Groups request carries, parsed by the core under the configured limits (RFC 7644 §3.3-§3.5).

The handlers of both resources read their projections, list queries, documents and PATCH operations the same
way.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bridge.scim import ListQuery, ResourceSchema, clean_input, parse_patch
from bridge.scim.patch import PatchOperation
from bridge.web.bodies import read_json
from bridge.web.keys import SETTINGS


def projection(request: web.Request) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`attributes` and `excludedAttributes` of a request (RFC 7644 §3.9), validated by the core."""
    if not request.query_string:
        return (), ()  # a plain GET, the IdPs' usual read
    settings = request.app[SETTINGS].scim
    wanted = {k: v for k, v in request.query.items() if k.lower() in ("attributes", "excludedattributes")}
    query = ListQuery.from_params(
        wanted, max_count=settings.max_results, default_count=settings.default_count
    )
    return query.attributes, query.excluded_attributes


def list_query(request: web.Request) -> ListQuery:
    """The query string of a GET on a collection: filter, sort, page and projection (§3.4.2)."""
    scim = request.app[SETTINGS].scim
    return ListQuery.from_params(request.query, max_count=scim.max_results, default_count=scim.default_count)


async def search_query(request: web.Request) -> ListQuery:
    """The SearchRequest body of a POST /.search (§3.4.3)."""
    scim = request.app[SETTINGS].scim
    body = await read_json(request, scim.max_json_depth)
    return ListQuery.from_search_body(body, max_count=scim.max_results, default_count=scim.default_count)


async def resource_document(request: web.Request, schema: ResourceSchema) -> dict[str, Any]:
    """The validated resource of a POST or PUT (§3.3, §3.5.1)."""
    scim = request.app[SETTINGS].scim
    return clean_input(await read_json(request, scim.max_json_depth), schema, strict=scim.strict)


async def patch_operations(request: web.Request) -> list[PatchOperation]:
    """The operations of a PatchOp body (§3.5.2)."""
    scim = request.app[SETTINGS].scim
    return parse_patch(await read_json(request, scim.max_json_depth), strict=scim.strict)
