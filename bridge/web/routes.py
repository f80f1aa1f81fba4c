"""The route table: the bridge's whole public SCIM surface on one screen (RFC 7644 §3.2)."""

from __future__ import annotations

from aiohttp import web

from bridge.config import Settings
from bridge.scim.errors import NotImplementedByServer
from bridge.web import discovery, groups, users


async def not_implemented(_: web.Request) -> web.Response:
    """Bulk (§3.7), /Me (§3.11) and root-level search are not offered; ServiceProviderConfig says so."""
    raise NotImplementedByServer("This endpoint is not supported by scim-bridge.")


def setup_routes(app: web.Application, settings: Settings) -> None:
    """Register every SCIM route under server.base_path."""
    base = settings.server.base_path.rstrip("/")
    r = app.router
    r.add_get(f"{base}/Users", users.list_users)
    r.add_post(f"{base}/Users", users.create_user)
    r.add_post(f"{base}/Users/.search", users.search_users)
    r.add_get(f"{base}/Users/{{id}}", users.get_user)
    r.add_put(f"{base}/Users/{{id}}", users.replace_user)
    r.add_patch(f"{base}/Users/{{id}}", users.patch_user)
    r.add_delete(f"{base}/Users/{{id}}", users.delete_user)
    r.add_get(f"{base}/Groups", groups.list_groups)
    r.add_post(f"{base}/Groups", groups.create_group)
    r.add_post(f"{base}/Groups/.search", groups.search_groups)
    r.add_get(f"{base}/Groups/{{id}}", groups.get_group)
    r.add_put(f"{base}/Groups/{{id}}", groups.replace_group)
    r.add_patch(f"{base}/Groups/{{id}}", groups.patch_group)
    r.add_delete(f"{base}/Groups/{{id}}", groups.delete_group)
    r.add_get(f"{base}/ServiceProviderConfig", discovery.service_provider_config)
    r.add_get(f"{base}/ResourceTypes", discovery.resource_types)
    r.add_get(f"{base}/ResourceTypes/{{name}}", discovery.resource_type)
    r.add_get(f"{base}/Schemas", discovery.schemas)
    r.add_get(f"{base}/Schemas/{{id}}", discovery.schema)
    # Tolerated for Microsoft's SCIMReferenceCode clients (its Postman collection): ServiceProviderConfig
    # under the reference code's own name, and collections with a trailing slash (`GET /Users/?filter=`),
    # which the master also tolerates on its own API (master-api.md §8 item 1). See docs/conformance.md.
    r.add_get(f"{base}/serviceConfiguration", discovery.service_provider_config)
    r.add_get(f"{base}/Users/", users.list_users)
    r.add_post(f"{base}/Users/", users.create_user)
    r.add_get(f"{base}/Groups/", groups.list_groups)
    r.add_post(f"{base}/Groups/", groups.create_group)
    for path in (f"{base}/Bulk", f"{base}/Me", f"{base}/.search"):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            r.add_route(method, path, not_implemented)
