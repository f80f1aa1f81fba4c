"""SCIM responses: application/scim+json bodies, Location and ETag headers, 304 for a matching If-None-Match."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import hdrs, web

from bridge import jsonenc
from bridge.scim.etags import etag_for, if_none_match_hit
from bridge.scim.media import SCIM_MEDIA_TYPE

NO_CONTENT: Final = 204
_CONTENT_TYPE: Final = f"{SCIM_MEDIA_TYPE}; charset=utf-8"


def scim_json(body: Mapping[str, Any] | bytes, *, status: int = 200) -> web.Response:
    """A JSON body (a document, or its encoding) with the SCIM media type (RFC 7644 §8.1)."""
    encoded = body if isinstance(body, bytes) else jsonenc.dumps(body)
    return web.Response(status=status, body=encoded, headers={hdrs.CONTENT_TYPE: _CONTENT_TYPE})


def resource_response(
    body: Mapping[str, Any] | bytes, *, version: int, location: str | None = None, status: int = 200
) -> web.Response:
    """A single resource with its weak ETag (RFC 7644 §3.14) and, when given (on creation), its Location
    (§3.3)."""
    encoded = body if isinstance(body, bytes) else jsonenc.dumps(body)
    headers = {hdrs.CONTENT_TYPE: _CONTENT_TYPE, hdrs.ETAG: etag_for(version)}
    if location is not None:
        headers[hdrs.LOCATION] = location
    return web.Response(status=status, body=encoded, headers=headers)


def not_modified(request: web.Request, version: int) -> web.Response | None:
    """304 when the client's If-None-Match already names this version (RFC 7232 §3.2); else None."""
    header = request.headers.get(hdrs.IF_NONE_MATCH)
    if header is None:
        return None  # most reads: no ETag to build and compare
    if if_none_match_hit(header, etag_for(version)):
        response = web.Response(status=304)
        response.headers[hdrs.ETAG] = etag_for(version)
        return response
    return None


def no_content() -> web.Response:
    """204 for DELETE (RFC 7644 §3.6)."""
    return web.Response(status=NO_CONTENT)


def no_content_with_etag(version: int) -> web.Response:
    """204 after a write, still telling the client the new version (RFC 7644 §3.14)."""
    response = web.Response(status=NO_CONTENT)
    response.headers[hdrs.ETAG] = etag_for(version)
    return response
