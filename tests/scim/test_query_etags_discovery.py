"""Paging/search parameters (idp-traffic §0.14), ETags (RFC 7644 §3.14) and discovery (RFC 7643 §5-7)."""

from __future__ import annotations

import json

import pytest

from bridge.scim.discovery import (
    AuthScheme,
    resource_type,
    resource_types,
    schema_by_id,
    schemas_documents,
    service_provider_config,
)
from bridge.scim.errors import InvalidFilter, InvalidSyntax, InvalidValue
from bridge.scim.etags import etag_for, if_match_ok, if_none_match_hit
from bridge.scim.filters import parse_filter
from bridge.scim.query import ListQuery, list_response
from bridge.scim.schemas import (
    ENTERPRISE_USER_URN,
    GROUP_SCHEMA,
    GROUP_URN,
    LIST_RESPONSE_URN,
    SCHEMA_URN,
    USER_SCHEMA,
    USER_URN,
)

BASE = "https://bridge.example/scim/v2"


@pytest.mark.parametrize(
    ("params", "start", "count"),
    [
        ({"startIndex": "1", "count": "100"}, 1, 100),  # Okta paging
        ({"startIndex": "1", "count": "2"}, 1, 2),  # Okta connection test
        ({"count": "1"}, 1, 1),  # Google probe
        ({"startIndex": "201"}, 201, 50),  # authentik: startIndex only → default count
        ({}, 1, 50),
        ({"startIndex": "0", "count": "-5"}, 1, 0),
        ({"startIndex": "-3", "count": "0"}, 1, 0),  # count=0: totals only
        ({"count": "100000"}, 1, 200),  # capped
        ({"STARTINDEX": "3", "Count": "5"}, 3, 5),
    ],
)
def test_paging(params: dict[str, str], start: int, count: int) -> None:
    q = ListQuery.from_params(params, max_count=200, default_count=50)
    assert (q.start_index, q.count, q.offset) == (start, count, start - 1)


def test_full_query_params() -> None:
    q = ListQuery.from_params(
        {
            "filter": 'displayName eq "Eng"',
            "excludedAttributes": "members",  # Entra on every group GET
            "attributes": "displayName, id",
            "sortBy": "displayName",
            "sortOrder": "Descending",
        },
        max_count=100,
        default_count=100,
    )
    assert q.filter == parse_filter('displayName eq "Eng"')
    assert q.excluded_attributes == ("members",)
    assert q.attributes == ("displayName", "id")
    assert q.sort_by == "displayName"
    assert q.sort_descending


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"count": "ten"}, InvalidValue),
        ({"startIndex": "1.5"}, InvalidValue),
        ({"sortOrder": "up"}, InvalidValue),
        ({"filter": "userName eq"}, InvalidFilter),
    ],
)
def test_bad_params(params: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error):
        ListQuery.from_params(params, max_count=10, default_count=10)


def test_search_body() -> None:
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "attributes": ["displayName", "userName"],
        "excludedAttributes": ["emails"],
        "filter": 'displayName sw "smith"',
        "startIndex": 1,
        "count": 10,
        "sortBy": "userName",
        "sortOrder": "ascending",
    }
    q = ListQuery.from_search_body(body, max_count=5, default_count=5)
    assert q.attributes == ("displayName", "userName")
    assert q.count == 5
    assert not q.sort_descending
    assert ListQuery.from_search_body({}, max_count=5, default_count=3).count == 3
    bad_bodies: list[object] = [[], {"count": True}, {"filter": 3}, {"attributes": [1]}]
    for bad in bad_bodies:
        with pytest.raises((InvalidSyntax, InvalidValue)):
            ListQuery.from_search_body(bad, max_count=5, default_count=5)


def test_list_response_integers() -> None:
    body = list_response([{"id": "a"}], total=7, start_index=3)
    assert body == {
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": 7,
        "startIndex": 3,
        "itemsPerPage": 1,
        "Resources": [{"id": "a"}],
    }
    assert list_response([], 0, 1)["Resources"] == []  # Entra: 200 + empty ListResponse on miss


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (None, True),
        ("", True),
        ("*", True),
        ('W/"3"', True),
        ('"3"', True),
        ('W/"2", W/"3"', True),
        ('W/"2"', False),
        ("3", True),
        ('W/"3,4"', False),
    ],
)
def test_if_match(header: str | None, ok: bool) -> None:
    assert if_match_ok(header, etag_for(3)) is ok


@pytest.mark.parametrize(
    ("header", "hit"), [(None, False), ("*", True), ('W/"3"', True), ('W/"4"', False), ('"1", W/"3"', True)]
)
def test_if_none_match(header: str | None, hit: bool) -> None:
    assert if_none_match_hit(header, etag_for(3)) is hit


def test_etag_format() -> None:
    assert etag_for(12) == 'W/"12"'


def test_service_provider_config() -> None:
    spc = service_provider_config(
        base_url=BASE + "/",
        max_results=200,
        max_payload=1_048_576,
        auth_schemes=[AuthScheme("oauthbearertoken", "OAuth Bearer Token", "Bearer token", primary=True)],
    )
    assert spc["patch"] == {"supported": True}
    assert spc["filter"] == {"supported": True, "maxResults": 200}
    assert spc["bulk"]["supported"] is False
    assert spc["bulk"]["maxOperations"] > 0  # authentik chunks PATCH ops by this number
    assert spc["etag"] == {"supported": True}
    assert spc["authenticationSchemes"][0]["primary"] is True
    assert spc["meta"]["location"] == BASE + "/ServiceProviderConfig"
    json.dumps(spc)


def test_resource_types() -> None:
    user, group = resource_types(BASE)
    assert user["endpoint"] == "/Users"
    assert user["schemaExtensions"] == [{"schema": ENTERPRISE_USER_URN, "required": False}]
    assert group["schema"] == GROUP_URN
    assert group["meta"]["location"] == BASE + "/ResourceTypes/Group"
    assert resource_type(BASE, "user") == user
    assert resource_type(BASE, "Nope") is None


def _names(attrs: list[dict[str, object]]) -> set[str]:
    return {str(a["name"]) for a in attrs}


def test_schemas_are_generated_from_the_code_definitions() -> None:
    docs = {d["id"]: d for d in schemas_documents(BASE)}
    assert set(docs) == {USER_URN, ENTERPRISE_USER_URN, GROUP_URN}
    user = docs[USER_URN]
    assert user["schemas"] == [SCHEMA_URN]
    assert _names(user["attributes"]) == {a.name for a in USER_SCHEMA.core.attributes}
    assert {
        "userName",
        "name",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "active",
        "password",
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509Certificates",
    } <= _names(user["attributes"])  # all of RFC 7643 §4.1
    password = next(a for a in user["attributes"] if a["name"] == "password")
    assert password["returned"] == "never"
    assert password["mutability"] == "writeOnly"
    members = next(a for a in docs[GROUP_URN]["attributes"] if a["name"] == "members")
    assert _names(members["subAttributes"]) == {"value", "$ref", "display", "type"}
    assert _names(docs[GROUP_URN]["attributes"]) == {a.name for a in GROUP_SCHEMA.core.attributes}
    assert schema_by_id(BASE, ENTERPRISE_USER_URN.upper()) == docs[ENTERPRISE_USER_URN]
    assert schema_by_id(BASE, "urn:nope") is None
    assert docs[USER_URN]["meta"]["location"] == f"{BASE}/Schemas/{USER_URN}"
