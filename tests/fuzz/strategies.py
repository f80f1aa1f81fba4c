"""Hypothesis strategies for hostile SCIM traffic: paths, queries, headers and bodies an IdP never sends."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from hypothesis import strategies as st

BASE: Final = "/scim/v2"
USER_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN: Final = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_URN: Final = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_URN: Final = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@dataclass(frozen=True, slots=True)
class FuzzRequest:
    """One request to send: everything the fuzzer chose, so a failure prints a reproducible case."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    authenticated: bool = True
    tags: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class KnownIds:
    """Ids of resources that exist, so some requests reach handlers past the 404 check."""

    users: tuple[str, ...]
    groups: tuple[str, ...]


# --- JSON values -------------------------------------------------------------------------------------

scalar_json = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", " ", "true", "false", "null", "0", "-1", "é", "\u0000", "\ud7ff", "a" * 300]),
)

any_json: st.SearchStrategy[Any] = st.recursive(
    scalar_json,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=12), children, max_size=5),
    ),
    max_leaves=20,
)

attribute_names = st.sampled_from(
    [
        "userName",
        "username",
        "USERNAME",
        "displayName",
        "active",
        "externalId",
        "name",
        "name.givenName",
        "emails",
        'emails[type eq "work"].value',
        "members",
        'members[value eq "x"]',
        "password",
        "id",
        "meta",
        "schemas",
        f"{ENTERPRISE_URN}:manager",
        f"{ENTERPRISE_URN}:department",
        f"{USER_URN}:userName",
        "nickName",
        "title",
        "roles",
        "groups",
        "x-unknown",
        "",
        "[",
        "emails[",
        "a.b.c.d",
    ]
)

user_like_body = st.fixed_dictionaries(
    {},
    optional={
        "schemas": st.one_of(st.just([USER_URN]), st.just([USER_URN, ENTERPRISE_URN]), any_json),
        "userName": st.one_of(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-@", min_size=1, max_size=30), any_json
        ),
        "displayName": st.one_of(st.text(max_size=40), any_json),
        "active": st.one_of(st.booleans(), st.sampled_from(["True", "false", "yes", 1, 0]), any_json),
        "externalId": any_json,
        "name": st.one_of(
            st.fixed_dictionaries(
                {}, optional={"givenName": any_json, "familyName": any_json, "formatted": any_json}
            ),
            any_json,
        ),
        "emails": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {}, optional={"value": any_json, "type": any_json, "primary": any_json}
                ),
                max_size=3,
            ),
            any_json,
        ),
        "password": any_json,
        "id": any_json,
        "meta": any_json,
        ENTERPRISE_URN: any_json,
    },
)

group_like_body = st.fixed_dictionaries(
    {},
    optional={
        "schemas": st.one_of(st.just([GROUP_URN]), any_json),
        "displayName": st.one_of(st.text(max_size=40), any_json),
        "externalId": any_json,
        "members": st.one_of(
            st.lists(
                st.fixed_dictionaries({}, optional={"value": any_json, "display": any_json}), max_size=4
            ),
            any_json,
        ),
    },
)

patch_operation = st.fixed_dictionaries(
    {},
    optional={
        "op": st.one_of(
            st.sampled_from(["add", "remove", "replace", "Add", "Replace", "REMOVE", "move", "", "copy"]),
            any_json,
        ),
        "path": st.one_of(attribute_names, any_json),
        "value": any_json,
    },
)

patch_body = st.one_of(
    st.fixed_dictionaries(
        {
            "schemas": st.one_of(st.just([PATCH_URN]), any_json),
            "Operations": st.lists(patch_operation, max_size=4),
        }
    ),
    st.fixed_dictionaries({"schemas": st.just([PATCH_URN]), "Operations": any_json}),
    any_json,
)

search_body = st.fixed_dictionaries(
    {},
    optional={
        "schemas": st.one_of(st.just([SEARCH_URN]), any_json),
        "filter": st.one_of(st.deferred(lambda: filters), any_json),
        "startIndex": any_json,
        "count": any_json,
        "attributes": st.one_of(st.lists(attribute_names, max_size=3), any_json),
        "excludedAttributes": st.one_of(st.lists(attribute_names, max_size=3), any_json),
        "sortBy": st.one_of(attribute_names, any_json),
        "sortOrder": any_json,
    },
)

# --- Filters -----------------------------------------------------------------------------------------

_comparisons = st.builds(
    lambda attr, op, value: f"{attr} {op} {value}",
    attribute_names,
    st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "xx", "pr"]),
    st.one_of(
        st.builds(json.dumps, st.text(max_size=20)),
        st.sampled_from(
            [
                "true",
                "false",
                "null",
                "1",
                "-1.5e3",
                '"',
                '"\\',
                "'x'",
                "",
                "(",
                ")",
                '"\\ud800"',
                '"a\\udfffb"',
            ]
        ),
    ),
)
filters: st.SearchStrategy[str] = st.one_of(
    st.recursive(
        _comparisons,
        lambda inner: st.one_of(
            st.builds(lambda a, b: f"{a} and {b}", inner, inner),
            st.builds(lambda a, b: f"{a} or {b}", inner, inner),
            st.builds(lambda a: f"not ({a})", inner),
            st.builds(lambda a: f"({a}", inner),
            st.builds(lambda a: f"emails[{a}]", inner),
        ),
        max_leaves=6,
    ),
    st.text(max_size=60),
    st.builds(lambda n: "(" * n + 'userName eq "a"' + ")" * n, st.integers(0, 400)),
    st.builds(lambda n: "not (" * n + 'userName eq "a"' + ")" * n, st.integers(0, 400)),
)

# --- Bodies ------------------------------------------------------------------------------------------


def _nest(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"1" + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


deep_json = st.builds(_nest, st.integers(20, 5000), st.sampled_from(["list", "dict"]))
deep_in_attribute = st.builds(
    lambda depth: (
        b'{"schemas":["' + USER_URN.encode() + b'"],"userName":"deep","name":' + _nest(depth, "dict") + b"}"
    ),
    st.integers(20, 3000),
)

huge_body = st.builds(
    lambda size, fill: b'{"userName":"' + fill * size + b'"}',
    st.sampled_from([900_000, 1_048_500, 1_048_577, 2_000_000, 5_000_000]),
    st.sampled_from([b"a", b"\xc3\xa9", b"\\u00e9"]),
)

invalid_utf8 = st.one_of(
    st.binary(min_size=1, max_size=200).filter(lambda b: not _is_utf8(b)),
    st.builds(lambda prefix: b'{"userName":"' + prefix + b'\xff\xfe"}', st.binary(max_size=20)),
    st.just(b'{"displayName":"\xed\xa0\x80"}'),  # an encoded surrogate: not valid UTF-8
    st.just(b"\xef\xbb\xbf{}"),  # a UTF-8 BOM
    st.just(b"\xff\xfe{\x00}\x00"),  # UTF-16
)

malformed_json = st.one_of(
    st.sampled_from(
        [
            b"",
            b"{",
            b"}",
            b"[",
            b"null",
            b"true",
            b"0",
            b'"string"',
            b"{'single': 'quotes'}",
            b'{"a":1,}',
            b'{"a" 1}',
            b"NaN",
            b'{"count": NaN}',
            b'{"count": Infinity}',
            b'{"count": -Infinity}',
            b'{"n": 1e999999}',
            b'{"userName":"a","userName":"b"}',
            b'{"userName":"a"}garbage',
            b"\x00\x00\x00",
            b'{"userName":"\\ud800"}',
            b'{"a":"\\u00"}',
        ]
    ),
    st.builds(lambda digits: b'{"count": ' + b"9" * digits + b"}", st.integers(1, 20_000)),
    st.text(max_size=80).map(str.encode),
    st.binary(max_size=120),
)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def encoded(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """JSON-encode drawn values, sometimes with non-ASCII escapes left raw."""
    return st.builds(
        lambda value, ascii_only: json.dumps(value, ensure_ascii=ascii_only).encode(),
        strategy,
        st.booleans(),
    )


any_body = st.one_of(
    encoded(user_like_body),
    encoded(group_like_body),
    encoded(patch_body),
    encoded(search_body),
    encoded(any_json),
    malformed_json,
    invalid_utf8,
    deep_json,
    deep_in_attribute,
)

# --- Headers -----------------------------------------------------------------------------------------

content_types = st.sampled_from(
    [
        "application/scim+json",
        "application/scim+json; charset=utf-8",
        "application/json",
        "application/json; charset=UTF-8",
        "application/json; charset=latin-1",
        "application/scim+json; charset=utf-16",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
        "application/",
        "*/*",
        ";;;",
        "application/scim+json; q=",
    ]
)

header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)

extra_headers = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "Accept",
                "Accept-Charset",
                "Accept-Encoding",
                "If-Match",
                "If-None-Match",
                "X-Request-ID",
                "X-Forwarded-For",
                "Forwarded",
                "Prefer",
                "Range",
                "Content-Encoding",
                "Expect",
                "Cookie",
                "Origin",
            ]
        ),
        st.one_of(
            header_values,
            st.sampled_from(['W/"1"', '"*"', "*", "W/", 'W/"', "gzip", "br", "100-continue", "bytes=0-0"]),
        ),
    ),
    max_size=3,
)

# --- Paths and queries -------------------------------------------------------------------------------


def ids(known: KnownIds) -> st.SearchStrategy[str]:
    """Existing ids, random UUIDs and garbage, percent-encoded as a path segment would be."""
    garbage = st.one_of(
        st.uuids().map(str),
        st.text(
            alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"),
            min_size=1,
            max_size=40,
        ),
        st.sampled_from(
            ["..", ".", "%2e%2e", "%00", "%ff", "%2F", "%", "%zz", "0", "-1", "9" * 40, "a" * 3000, ".search"]
        ),
    )
    choices = [garbage]
    if known.users:
        choices.append(st.sampled_from(known.users))
    if known.groups:
        choices.append(st.sampled_from(known.groups))
    return st.one_of(*choices)


def resource_paths(known: KnownIds) -> st.SearchStrategy[str]:
    """Every SCIM endpoint, with and without ids, plus paths no endpoint serves."""
    fixed = st.sampled_from(
        [
            f"{BASE}/Users",
            f"{BASE}/Users/",
            f"{BASE}/Groups",
            f"{BASE}/Groups/",
            f"{BASE}/Users/.search",
            f"{BASE}/Groups/.search",
            f"{BASE}/.search",
            f"{BASE}/Bulk",
            f"{BASE}/Me",
            f"{BASE}/ServiceProviderConfig",
            f"{BASE}/ServiceProviderConfigs",
            f"{BASE}/Schemas",
            f"{BASE}/Schemas/{USER_URN}",
            f"{BASE}/Schemas/{GROUP_URN}",
            f"{BASE}/Schemas/{ENTERPRISE_URN}",
            f"{BASE}/Schemas/urn:nope",
            f"{BASE}/ResourceTypes",
            f"{BASE}/ResourceTypes/User",
            f"{BASE}/ResourceTypes/Group",
            f"{BASE}/ResourceTypes/Nope",
            f"{BASE}",
            f"{BASE}/",
            f"{BASE}//Users",
            f"{BASE}/users",
            f"{BASE}/oauth/token",
            "/oauth/token",
            "/healthz",
            "/",
            "/scim",
            "/scim/v1/Users",
            "/api/v1/users",
        ]
    )
    with_id = st.builds(
        lambda kind, rid, suffix: f"{BASE}/{kind}/{rid}{suffix}",
        st.sampled_from(["Users", "Groups", "Schemas", "ResourceTypes", "Bulk", "Me"]),
        ids(known),
        st.sampled_from(["", "", "", "/", "/members", "/.search", "?", "#frag", "/%2e%2e/%2e%2e"]),
    )
    return st.one_of(fixed, fixed, with_id, with_id)


query_params = st.lists(
    st.one_of(
        st.tuples(st.just("filter"), filters),
        st.tuples(
            st.sampled_from(["startIndex", "count", "startindex", "COUNT"]),
            st.one_of(
                st.integers(-(2**40), 2**40).map(str),
                st.sampled_from(["", "abc", "1.5", "1e3", "0x10", "-0", " 1", "9" * 50, "NaN"]),
            ),
        ),
        st.tuples(
            st.sampled_from(["attributes", "excludedAttributes"]),
            st.lists(attribute_names, max_size=3).map(",".join),
        ),
        st.tuples(
            st.sampled_from(["sortBy", "sortOrder"]),
            st.one_of(attribute_names, st.sampled_from(["ascending", "descending", "up"])),
        ),
        st.tuples(st.text(max_size=10), st.text(max_size=30)),
    ),
    max_size=4,
).map(tuple)

methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND"])


def requests(known: KnownIds) -> st.SearchStrategy[FuzzRequest]:
    """Any method on any path with any query, headers and body."""
    return st.builds(
        lambda method, path, params, ctype, headers, body: FuzzRequest(
            method=method,
            path=path,
            params=params,
            headers=((("Content-Type", ctype),) if ctype else ()) + tuple(headers),
            body=body,
            tags=("mixed",),
        ),
        methods,
        resource_paths(known),
        query_params,
        content_types,
        extra_headers,
        st.one_of(st.none(), any_body),
    )


def writes(known: KnownIds) -> st.SearchStrategy[FuzzRequest]:
    """Well-routed writes (POST/PUT/PATCH) whose bodies are hostile: the handlers' parsing is the target."""

    def build(kind: str, method: str, rid: str, body: bytes, ctype: str) -> FuzzRequest:
        path = f"{BASE}/{kind}" if method == "POST" else f"{BASE}/{kind}/{rid}"
        return FuzzRequest(
            method=method, path=path, headers=(("Content-Type", ctype),), body=body, tags=("write",)
        )

    return st.builds(
        build,
        st.sampled_from(["Users", "Groups"]),
        st.sampled_from(["POST", "PUT", "PATCH"]),
        ids(known),
        any_body,
        st.sampled_from(["application/scim+json", "application/json"]),
    )


def reads(known: KnownIds) -> st.SearchStrategy[FuzzRequest]:
    """Well-routed GETs and .search POSTs with hostile filters, paging and projections."""

    def build_get(kind: str, params: tuple[tuple[str, str], ...]) -> FuzzRequest:
        return FuzzRequest(method="GET", path=f"{BASE}/{kind}", params=params, tags=("read",))

    def build_search(kind: str, body: bytes) -> FuzzRequest:
        path = f"{BASE}/{kind}/.search" if kind else f"{BASE}/.search"
        return FuzzRequest(
            method="POST",
            path=path,
            headers=(("Content-Type", "application/scim+json"),),
            body=body,
            tags=("search",),
        )

    return st.one_of(
        st.builds(build_get, st.sampled_from(["Users", "Groups"]), query_params),
        st.builds(
            build_get, st.sampled_from(["Users", "Groups"]), st.tuples(st.tuples(st.just("filter"), filters))
        ),
        st.builds(
            build_search,
            st.sampled_from(["Users", "Groups", ""]),
            st.one_of(encoded(search_body), malformed_json),
        ),
    )


def bad_auth(known: KnownIds) -> st.SearchStrategy[FuzzRequest]:
    """Requests whose Authorization header is missing or wrong in every way we can think of."""
    authorization = st.one_of(
        st.just(""),
        st.builds(lambda t: f"Basic {t}", header_values),
        st.builds(lambda t: f"Bearer {t}", header_values),
        st.sampled_from(
            ["Basic", "Bearer", "Basic =", "Basic ====", "Basic Og==", "Basic w6k6w6k=", "Digest x", "bearer"]
        ),
        header_values,
    )
    return st.builds(
        lambda method, path, value: FuzzRequest(
            method=method,
            path=path,
            headers=(("Authorization", value),) if value else (),
            authenticated=False,
            tags=("auth",),
        ),
        st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
        resource_paths(known),
        authorization,
    )


def token_endpoint() -> st.SearchStrategy[FuzzRequest]:
    """The OAuth token endpoint: form bodies with wrong grants, wrong clients and broken encodings."""
    form = st.lists(
        st.tuples(
            st.sampled_from(["grant_type", "client_id", "client_secret", "scope", "x"]),
            st.one_of(
                st.sampled_from(["client_credentials", "password", "fuzz-client", "wrong"]),
                st.text(max_size=20),
            ),
        ),
        max_size=4,
    )

    def build(pairs: list[tuple[str, str]], ctype: str, raw: bytes | None) -> FuzzRequest:
        from urllib.parse import urlencode

        body = raw if raw is not None else urlencode(pairs).encode()
        return FuzzRequest(
            method="POST",
            path=f"{BASE}/oauth/token",
            headers=(("Content-Type", ctype),) if ctype else (),
            body=body,
            authenticated=False,
            tags=("token",),
        )

    return st.builds(
        build,
        form,
        st.sampled_from(["application/x-www-form-urlencoded", "application/json", "", "text/plain"]),
        st.one_of(st.none(), invalid_utf8, malformed_json),
    )
