"""IdP dialect detection (User-Agent, query flags, body shape), logged per request as ``idp_dialect``.

The context middleware (bridge/web/context.py) asks `request_dialect` before the handler and binds it with the
request id, then `refine_from_body` after it.

The dialect only labels requests for operators; behaviour stays tolerant for every IdP
(shared/idp/idp-traffic.md §0). Unknown or ambiguous clients are ``generic``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from aiohttp import hdrs, web

from bridge.log_fields import bind_log_field
from bridge.web.keys import JSON_BODY

LOG_KEY: Final = "idp_dialect"
# Shape detection needs only the first operations of a body; bigger bodies are not parsed twice.
MAX_SNIFF_BYTES: Final = 256 * 1024


class IdpDialect(StrEnum):
    """The identity providers whose SCIM clients we tell apart."""

    OKTA = "okta"
    ENTRA = "entra"
    ONELOGIN = "onelogin"
    JUMPCLOUD = "jumpcloud"
    GOOGLE = "google"
    PINGFEDERATE = "pingfederate"
    AUTHENTIK = "authentik"
    KEYCLOAK = "keycloak"
    GENERIC = "generic"


# First match wins. Sources: idp-traffic.md §1 (User-Agent row) and §10.
_USER_AGENTS: Final[tuple[tuple[re.Pattern[str], IdpDialect], ...]] = (
    # "Okta SCIM Client 1.0.0" in production; Okta's Runscope SPEC test sends "OKTA SCIM Integration".
    (re.compile(r"\bokta\b", re.IGNORECASE), IdpDialect.OKTA),
    # Entra's UA is undocumented; a public test expects "Microsoft Azure AD SCIM provisioning x.y".
    (
        re.compile(r"azure ?ad|azure active directory|microsoft entra|\baad\b", re.IGNORECASE),
        IdpDialect.ENTRA,
    ),
    # OneLogin sends no fixed UA; vendors ask admins to add "User-Agent: OneLogin SCIM" as a custom header.
    (re.compile(r"onelogin", re.IGNORECASE), IdpDialect.ONELOGIN),
    (re.compile(r"jumpcloud", re.IGNORECASE), IdpDialect.JUMPCLOUD),
    (re.compile(r"google", re.IGNORECASE), IdpDialect.GOOGLE),
    (re.compile(r"pingfederate|pingone|pingidentity", re.IGNORECASE), IdpDialect.PINGFEDERATE),
    # authentik/lib/utils/http.py sets "authentik@<version>".
    (re.compile(r"^authentik@", re.IGNORECASE), IdpDialect.AUTHENTIK),
    (re.compile(r"keycloak", re.IGNORECASE), IdpDialect.KEYCLOAK),
)
# Entra appends its feature flags to the Tenant URL's query string (idp-traffic.md §3.1, §3.3).
_ENTRA_QUERY_FLAGS: Final = frozenset({"aadoptscim062020", "azureadscimpatch2017"})
_ENTRA_OPS: Final = frozenset({"Add", "Replace", "Remove"})
_ADSCIM_GROUP: Final = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
# `dialect_from_body` without a decoded document at hand (None is a document: JSON `null`).
_UNDECODED: Final = object()
_SCIM1_PREFIX: Final = "urn:scim:schemas:"


@functools.lru_cache(maxsize=256)
def dialect_from_user_agent(user_agent: str | None) -> IdpDialect:
    """Classify a User-Agent header value; ``generic`` when it names no known IdP.

    An IdP sends the same User-Agent on every request, so verdicts are cached (a bounded LRU: a client
    cycling through values only evicts entries, it cannot grow memory).
    """
    if user_agent:
        for pattern, dialect in _USER_AGENTS:
            if pattern.search(user_agent):
                return dialect
    return IdpDialect.GENERIC


def dialect_from_query(path: str, query: Mapping[str, str]) -> IdpDialect:
    """Classify by query string: Entra's Tenant-URL flags, and its ``excludedAttributes=members`` on groups."""
    keys = {key.lower() for key in query}
    if keys & _ENTRA_QUERY_FLAGS:
        return IdpDialect.ENTRA
    # Entra adds excludedAttributes=members to every group read (idp-traffic.md §0.8).
    excluded = next((v for k, v in query.items() if k.lower() == "excludedattributes"), None)
    if excluded is not None and excluded.strip().lower() == "members" and "/Groups" in path:
        return IdpDialect.ENTRA
    return IdpDialect.GENERIC


def _patch_operations(document: Mapping[str, object]) -> Iterable[Mapping[str, object]]:
    operations = document.get("Operations")
    if isinstance(operations, list):
        # Dicts (what the decoder gives) by their type first: the Mapping ABC's check costs ~1.7k instructions.
        yield from (op for op in operations if type(op) is dict or isinstance(op, Mapping))


def dialect_from_document(document: object) -> IdpDialect:
    """Classify a parsed request body by the shapes only one IdP sends (idp-traffic.md §0, §3.3, §4)."""
    if type(document) is not dict and not isinstance(document, Mapping):
        return IdpDialect.GENERIC
    schemas = document.get("schemas")
    schema_list = [s for s in schemas if isinstance(s, str)] if isinstance(schemas, list) else []
    if _ADSCIM_GROUP in schema_list:
        return IdpDialect.ENTRA
    # OneLogin's default JSON templates carry SCIM 1.x URNs even on its v2 connector.
    if any(s.startswith(_SCIM1_PREFIX) for s in schema_list):
        return IdpDialect.ONELOGIN
    for op in _patch_operations(document):
        # Entra's default job capitalises op; everyone else sends lower case. A hostile body may send any
        # JSON as op (a list or object is unhashable), so only strings are looked up.
        kind = op.get("op")
        if isinstance(kind, str) and kind in _ENTRA_OPS:
            return IdpDialect.ENTRA
        value = op.get("value")
        # aadOptscim062020 (and Microsoft's validator) send no-path values keyed by dotted or URN paths.
        if (
            op.get("path") is None
            and (type(value) is dict or isinstance(value, Mapping))
            and any(isinstance(k, str) and ("." in k or k.startswith("urn:")) for k in value)
        ):
            return IdpDialect.ENTRA
    return IdpDialect.GENERIC


def dialect_from_body(body: bytes, decoded: object = _UNDECODED) -> IdpDialect:
    """Classify raw request bytes (`decoded`: the document they hold, when already decoded); anything
    unparsable or too big to sniff is ``generic``."""
    if not body or len(body) > MAX_SNIFF_BYTES:
        return IdpDialect.GENERIC
    if decoded is _UNDECODED:
        try:
            decoded = json.loads(body)
        except (ValueError, RecursionError):
            return IdpDialect.GENERIC
    return dialect_from_document(decoded)


def detect_dialect(
    user_agent: str | None, path: str = "", query: Mapping[str, str] | None = None, body: bytes = b""
) -> IdpDialect:
    """Combine the signals: User-Agent first (an IdP names itself), then query flags, then body shape."""
    for dialect in (
        dialect_from_user_agent(user_agent),
        dialect_from_query(path, query or {}),
        dialect_from_body(body),
    ):
        if dialect is not IdpDialect.GENERIC:
            return dialect
    return IdpDialect.GENERIC


# Each dialect's text, read once: Enum.value is a Python-level property (~1.5k instructions a read).
LOG_VALUES: Final = MappingProxyType({dialect: dialect.value for dialect in IdpDialect})


def bind_dialect(dialect: IdpDialect) -> None:
    """Bind ``idp_dialect`` into structlog's context for the rest of this request."""
    bind_log_field(LOG_KEY, LOG_VALUES[dialect])


def request_dialect(request: web.Request) -> IdpDialect:
    """`detect_dialect` from the request's headers and query, before the handler (the body is not read);
    the query is not parsed when there is none (most requests)."""
    dialect = dialect_from_user_agent(request.headers.get(hdrs.USER_AGENT))
    if dialect is IdpDialect.GENERIC and request.query_string:
        dialect = dialect_from_query(request.path, request.query)
    return dialect


async def refine_from_body(request: web.Request) -> None:
    """After the handler, for a request `request_dialect` found ``generic`` whose body the handler read (so
    unauthenticated requests are never parsed): bind the dialect the body shows, read from aiohttp's cached
    copy."""
    # request[key] in a try, not request.get: the Mapping mixin's get around aiohttp's __getitem__ (~2.5k
    # instructions); the body the handler read as JSON is there.
    try:
        decoded = request[JSON_BODY]
    except KeyError:
        decoded = _UNDECODED
    refined = dialect_from_body(await request.read(), decoded)
    if refined is not IdpDialect.GENERIC:
        bind_dialect(refined)
