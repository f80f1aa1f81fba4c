"""Discovery endpoints (RFC 7644 §4): /ServiceProviderConfig, /ResourceTypes, /Schemas, from bridge/scim."""

from __future__ import annotations

from aiohttp import web

from bridge.config import AuthSettings
from bridge.scim import discovery
from bridge.scim.errors import NotFound
from bridge.scim.query import list_response
from bridge.web.keys import SETTINGS
from bridge.web.location import locations
from bridge.web.responses import scim_json


def auth_schemes(auth: AuthSettings) -> list[discovery.AuthScheme]:
    """The configured IdP authentication schemes (RFC 7643 §5 authenticationSchemes)."""
    schemes: list[discovery.AuthScheme] = []
    if auth.basic:
        schemes.append(
            discovery.AuthScheme(
                "httpbasic",
                "HTTP Basic",
                "HTTP Basic authentication",
                "https://www.rfc-editor.org/rfc/rfc7617",
            )
        )
    if auth.bearer:
        schemes.append(
            discovery.AuthScheme(
                "oauthbearertoken",
                "Bearer token",
                "Static bearer token in the Authorization header",
                "https://www.rfc-editor.org/rfc/rfc6750",
            )
        )
    if auth.oauth_clients:
        schemes.append(
            discovery.AuthScheme(
                "oauth2",
                "OAuth 2.0 client credentials",
                "Bearer tokens from the bridge's client-credentials token endpoint",
                "https://www.rfc-editor.org/rfc/rfc6749",
            )
        )
    if schemes:
        schemes[0] = discovery.AuthScheme(
            schemes[0].type, schemes[0].name, schemes[0].description, schemes[0].spec_uri, primary=True
        )
    return schemes


async def service_provider_config(request: web.Request) -> web.Response:
    """GET /ServiceProviderConfig."""
    settings = request.app[SETTINGS]
    return scim_json(
        discovery.service_provider_config(
            base_url=locations(request).base,
            max_results=settings.scim.max_results,
            max_payload=settings.scim.max_payload_bytes,
            auth_schemes=auth_schemes(settings.scim.auth),
            change_password=settings.users.password_sync,
        )
    )


async def resource_types(request: web.Request) -> web.Response:
    """GET /ResourceTypes as a ListResponse (RFC 7644 §4)."""
    docs = discovery.resource_types(locations(request).base)
    return scim_json(list_response(docs, len(docs), 1))


async def resource_type(request: web.Request) -> web.Response:
    """GET /ResourceTypes/{name}."""
    doc = discovery.resource_type(locations(request).base, request.match_info["name"])
    if doc is None:
        raise NotFound("No such resource type.")
    return scim_json(doc)


async def schemas(request: web.Request) -> web.Response:
    """GET /Schemas as a ListResponse."""
    docs = discovery.schemas_documents(locations(request).base)
    return scim_json(list_response(docs, len(docs), 1))


async def schema(request: web.Request) -> web.Response:
    """GET /Schemas/{id}."""
    doc = discovery.schema_by_id(locations(request).base, request.match_info["id"])
    if doc is None:
        raise NotFound("No such schema.")
    return scim_json(doc)
