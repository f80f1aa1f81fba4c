"""Handlers for /Groups and /Groups/.search (RFC 7644 §3.3 to §3.6): parse, call GroupService, render."""

from __future__ import annotations

from typing import Any

from aiohttp import hdrs, web

from bridge.provisioning.groups import GroupView
from bridge.provisioning.translate import group_document
from bridge.scim import GROUP_SCHEMA, ListQuery, list_response, render
from bridge.web.inputs import list_query, patch_operations, projection, resource_document, search_query
from bridge.web.keys import GROUPS
from bridge.web.location import Locations, locations
from bridge.web.responses import no_content, no_content_with_etag, not_modified, resource_response, scim_json
from bridge.web.services import caller


def wants_members(attributes: tuple[str, ...], excluded: tuple[str, ...]) -> bool:
    """Whether members must be loaded: Entra's `excludedAttributes=members` never touches them (§0.8)."""

    def names_members(path: str) -> bool:
        p = path.strip().lower()
        return p in ("members", "urn:ietf:params:scim:schemas:core:2.0:group:members") or p.startswith(
            "members."
        )

    if attributes:
        return any(names_members(a) for a in attributes)
    return not any(names_members(e) and "." not in e.strip() for e in excluded)


def _render(
    view: GroupView, where: Locations, attributes: tuple[str, ...], excluded: tuple[str, ...]
) -> dict[str, Any]:
    doc = group_document(view.record, view.members, where.users, where.groups)
    return render(
        doc, GROUP_SCHEMA, location=where.group(view.record.scim_id), attributes=attributes, excluded=excluded
    )


def _one(request: web.Request, view: GroupView, *, status: int = 200) -> web.Response:
    attributes, excluded = projection(request)
    if not wants_members(attributes, excluded):
        view = GroupView(view.record, None)
    where = locations(request)
    body = _render(view, where, attributes, excluded)
    location = where.group(view.record.scim_id) if status == 201 else None
    return resource_response(body, version=view.record.version, location=location, status=status)


async def _list(request: web.Request, query: ListQuery) -> web.Response:
    with_members = wants_members(query.attributes, query.excluded_attributes)
    total, views = await request.app[GROUPS].list(query, with_members=with_members)
    where = locations(request)
    resources = [_render(v, where, query.attributes, query.excluded_attributes) for v in views]
    return scim_json(list_response(resources, total, query.start_index))


async def list_groups(request: web.Request) -> web.Response:
    """GET /Groups: `displayName eq` and `members.value eq` answered from store indexes."""
    return await _list(request, list_query(request))


async def search_groups(request: web.Request) -> web.Response:
    """POST /Groups/.search (RFC 7644 §3.4.3)."""
    return await _list(request, await search_query(request))


async def create_group(request: web.Request) -> web.Response:
    """POST /Groups: 201 with Location and ETag."""
    doc = await resource_document(request, GROUP_SCHEMA)
    view = await request.app[GROUPS].create(doc, caller(request))
    return _one(request, view, status=201)


async def get_group(request: web.Request) -> web.Response:
    """GET /Groups/{id}; members only when not excluded."""
    attributes, excluded = projection(request)
    view = await request.app[GROUPS].get(
        request.match_info["id"], with_members=wants_members(attributes, excluded)
    )
    return not_modified(request, view.record.version) or _one(request, view)


async def replace_group(request: web.Request) -> web.Response:
    """PUT /Groups/{id}."""
    doc = await resource_document(request, GROUP_SCHEMA)
    view = await request.app[GROUPS].replace(
        request.match_info["id"], doc, caller(request), request.headers.get(hdrs.IF_MATCH)
    )
    return _one(request, view)


async def patch_group(request: web.Request) -> web.Response:
    """PATCH /Groups/{id}: 204 (RFC 7644 §3.5.2), or 200 with the group when `attributes` asks for a body.

    Every IdP accepts 204 for group PATCHes (Entra recommends it), and it spares re-reading large groups.
    """
    ops = await patch_operations(request)
    attributes, excluded = projection(request)
    wants_body = bool(attributes or excluded)
    view = await request.app[GROUPS].patch(
        request.match_info["id"],
        ops,
        caller(request),
        request.headers.get(hdrs.IF_MATCH),
        with_members=wants_body and wants_members(attributes, excluded),
    )
    if not wants_body:
        return no_content_with_etag(view.record.version)
    return _one(request, view)


async def delete_group(request: web.Request) -> web.Response:
    """DELETE /Groups/{id}: 204."""
    await request.app[GROUPS].delete(
        request.match_info["id"], caller(request), request.headers.get(hdrs.IF_MATCH)
    )
    return no_content()
