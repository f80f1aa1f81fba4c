"""SCIM 2.0 protocol core (RFC 7643/7644): schemas, filters, PATCH, projection, paging, ETags, discovery.

Framework-free: imports nothing from aiohttp, SQLite or the rest of `bridge`.
"""

from bridge.scim.errors import ScimError
from bridge.scim.filters import Filter, SqlMapping, compile_sql, matches, parse_filter
from bridge.scim.patch import PatchResult, apply_patch, needs_members, parse_patch
from bridge.scim.query import ListQuery, list_response
from bridge.scim.resources import clean_input, render
from bridge.scim.schemas import GROUP_SCHEMA, USER_SCHEMA, ResourceSchema

__all__ = [
    "GROUP_SCHEMA",
    "USER_SCHEMA",
    "Filter",
    "ListQuery",
    "PatchResult",
    "ResourceSchema",
    "ScimError",
    "SqlMapping",
    "apply_patch",
    "clean_input",
    "compile_sql",
    "list_response",
    "matches",
    "needs_members",
    "parse_filter",
    "parse_patch",
    "render",
]
