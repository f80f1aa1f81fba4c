"""clean_input and render: IdP junk in POST/PUT bodies (idp-traffic §0.4, §0.9, §0.11, §13) and projection."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.scim.errors import InvalidSyntax, InvalidValue
from bridge.scim.resources import _put_plain, _put_projected, clean_input, render
from bridge.scim.schemas import ENTERPRISE_USER_URN, GROUP_SCHEMA, GROUP_URN, USER_SCHEMA, USER_URN
from tests.scim.samples import load_sample

LOC = "https://bridge.example/scim/v2/Users/u1"


def test_okta_create_body_keeps_password_drops_groups() -> None:
    body = {
        "schemas": [USER_URN],
        "userName": "u@x.com",
        "name": {"givenName": "U", "familyName": "X"},
        "emails": [{"primary": True, "value": "u@x.com", "type": "work"}],
        "displayName": "U X",
        "locale": "en-US",
        "externalId": "00u1",
        "groups": [],
        "password": "placeholder",
        "active": True,
    }
    doc = clean_input(body, USER_SCHEMA)
    assert doc["password"] == "placeholder"  # the service syncs it
    assert "groups" not in doc
    rendered = render(doc | {"id": "u1"}, USER_SCHEMA, location=LOC)
    assert "password" not in rendered
    assert rendered["name"] == {"givenName": "U", "familyName": "X"}


def test_okta_aiw_put_echo_with_id_and_meta() -> None:
    body = load_sample("rfc7643-8.2-user-full-subset.json") | {"id": "server-id", "groups": [{"value": "g"}]}
    doc = clean_input(body, USER_SCHEMA)
    assert "id" not in doc
    assert "meta" not in doc
    assert "groups" not in doc


def test_entra_create_with_meta_roles_nulls_and_manager_string() -> None:
    body = {
        "schemas": [USER_URN, ENTERPRISE_USER_URN],
        "externalId": "mail",
        "userName": "u@contoso.com",
        "active": True,
        "displayName": None,
        "meta": {"resourceType": "User"},
        "roles": [],
        "title": None,
        ENTERPRISE_USER_URN: {"department": "R&D", "manager": "mgr-1", "employeeNumber": 7},
    }
    doc = clean_input(body, USER_SCHEMA)
    assert "roles" not in doc
    assert "displayName" not in doc
    assert doc[ENTERPRISE_USER_URN] == {
        "department": "R&D",
        "manager": {"value": "mgr-1"},
        "employeeNumber": "7",
    }
    assert doc["schemas"] == [USER_URN, ENTERPRISE_USER_URN]
    assert render(doc, USER_SCHEMA, location=LOC)[ENTERPRISE_USER_URN]["manager"] == {"value": "mgr-1"}


@pytest.mark.parametrize(
    ("sent", "stored"), [("True", True), ("False", False), ("false", False), ("TRUE", True), (True, True)]
)
def test_string_booleans(sent: object, stored: bool) -> None:
    assert clean_input({"userName": "u", "active": sent}, USER_SCHEMA)["active"] is stored


def test_onelogin_template_body() -> None:
    body = {
        "schemas": ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"],
        "id": None,
        "meta": {"resourceType": "User"},
        "userName": "jdoe",
        "active": "true",
        "emails": {"value": "j@x.com", "primary": True},
        "urn:scim:schemas:extension:enterprise:1.0": {
            "department": "",
            "manager": {"managerId": "m9", "displayName": "Boss"},
        },
        "user_mobile": "+1",
    }
    doc = clean_input(body, USER_SCHEMA)
    assert doc["active"] is True
    assert doc["emails"] == [{"value": "j@x.com", "primary": True}]
    assert doc[ENTERPRISE_USER_URN] == {"manager": {"value": "m9"}}
    assert "user_mobile" not in doc


def test_entra_group_post_with_adscim_urn_and_no_members() -> None:
    body = {
        "schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "oid",
        "displayName": "Eng",
        "meta": {"resourceType": "Group"},
    }
    doc = clean_input(body, GROUP_SCHEMA, strict=True)
    assert doc == {"externalId": "oid", "displayName": "Eng", "schemas": [GROUP_URN]}


def test_group_members_shapes() -> None:
    body = {
        "displayName": "G",
        "members": [
            {"value": "u1", "display": None, "$ref": None},
            {"value": "u2", "type": "User"},
            "u3",
            {"display": "nobody"},
        ],
    }
    doc = clean_input(body, GROUP_SCHEMA)
    assert doc["members"] == [{"value": "u1"}, {"value": "u2", "type": "User"}, {"value": "u3"}]


@pytest.mark.parametrize(
    ("body", "error", "strict"),
    [
        ("[]", InvalidSyntax, False),
        ({"active": True}, InvalidValue, False),  # userName required
        ({"userName": "u", "active": "maybe"}, InvalidValue, False),
        ({"userName": 5.5, "emails": [{"value": []}]}, InvalidValue, False),
        (
            {"userName": "u", "emails": [{"value": "a", "primary": True}, {"value": "b", "primary": "True"}]},
            InvalidValue,
            False,
        ),
        ({"userName": "u"}, InvalidSyntax, True),  # no schemas in strict mode
        ({"schemas": [USER_URN], "userName": "u", "nosuch": 1}, InvalidSyntax, True),
    ],
)
def test_clean_input_errors(body: object, error: type[Exception], strict: bool) -> None:
    with pytest.raises(error):
        clean_input(body, USER_SCHEMA, strict=strict)


def test_group_display_name_required() -> None:
    with pytest.raises(InvalidValue):
        clean_input({"members": []}, GROUP_SCHEMA)


def _full() -> dict[str, Any]:
    doc = clean_input(load_sample("rfc7643-8.2-user-full-subset.json"), USER_SCHEMA)
    return doc | {
        "id": "u1",
        "meta": {"created": "c", "version": 'W/"1"'},
        "password": "s",
        ENTERPRISE_USER_URN: {"department": "D"},
    }


@pytest.mark.parametrize(
    ("attributes", "excluded", "keys"),
    [
        (
            (),
            (),
            {
                "schemas",
                "id",
                "meta",
                "externalId",
                "userName",
                "name",
                "nickName",
                "emails",
                "addresses",
                ENTERPRISE_USER_URN,
            },
        ),
        (("userName",), (), {"schemas", "id", "meta", "userName"}),
        (("name.givenName", "emails.value"), (), {"schemas", "id", "meta", "name", "emails"}),
        ((ENTERPRISE_USER_URN,), (), {"schemas", "id", "meta", ENTERPRISE_USER_URN}),
        ((f"{ENTERPRISE_USER_URN}:department",), (), {"schemas", "id", "meta", ENTERPRISE_USER_URN}),
        (
            (),
            ("emails", "id", "meta", "name", "addresses", ENTERPRISE_USER_URN, "nosuch"),
            {"schemas", "id", "meta", "externalId", "userName", "nickName"},
        ),
        (("password",), (), {"schemas", "id", "meta"}),
    ],
)
def test_projection(attributes: tuple[str, ...], excluded: tuple[str, ...], keys: set[str]) -> None:
    out = render(_full(), USER_SCHEMA, location=LOC, attributes=attributes, excluded=excluded)
    assert set(out) == keys
    assert out["meta"]["location"] == LOC
    assert out["meta"]["resourceType"] == "User"


def test_projection_of_sub_attributes() -> None:
    out = render(_full(), USER_SCHEMA, location=LOC, attributes=("name.givenName", "emails.value"))
    assert out["name"] == {"givenName": "Barbara"}
    assert out["emails"] == [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]
    assert out["schemas"] == [USER_URN]
    out = render(_full(), USER_SCHEMA, location=LOC, excluded=("emails.type", "emails.primary"))
    assert out["emails"] == [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]
    assert ENTERPRISE_USER_URN in out["schemas"]


def test_entra_group_get_excluding_members() -> None:
    doc = {"id": "g", "displayName": "G", "members": [{"value": "u"}], "schemas": [GROUP_URN]}
    assert "members" not in render(doc, GROUP_SCHEMA, location="l", excluded=("members",))
    assert render(doc, GROUP_SCHEMA, location="l")["members"] == [{"value": "u"}]
    # a loaded, empty member list is rendered as [] (authentik adds nobody when `members` is missing)
    assert render(doc | {"members": []}, GROUP_SCHEMA, location="l")["members"] == []


def test_render_output_does_not_alias_the_document() -> None:
    doc = _full()
    out = render(doc, USER_SCHEMA, location=LOC)
    out["emails"][0]["value"] = "changed"
    out["name"]["givenName"] = "changed"
    assert doc["emails"][0]["value"] == "bjensen@example.com"
    assert doc["name"]["givenName"] == "Barbara"


def test_render_without_copies_returns_the_same_document() -> None:
    doc = _full() | {"groups": [], "x509Certificates": {}}
    for attributes, excluded in (((), ()), (("emails",), ()), ((), ("emails.type",))):
        copied = render(doc, USER_SCHEMA, location=LOC, attributes=attributes, excluded=excluded)
        shared = render(doc, USER_SCHEMA, location=LOC, attributes=attributes, excluded=excluded, copy=False)
        assert shared == copied
        assert list(shared) == list(copied)


@pytest.mark.parametrize(
    "extension",
    [
        None,
        {},
        {"department": "R&D"},
        {"manager": {"value": "m"}, "employeeNumber": "7", "x": 1},
        "not-an-object",
    ],
)
def test_plain_render_is_the_projected_render_without_projection(extension: object) -> None:
    """A render without projection takes a shorter path (an extension's attributes looked up together): the
    same members in the same order as the general path's, whichever extension object the document holds."""
    doc: dict[str, Any] = _full() | {"groups": [], "x509Certificates": {}, "password": "p"}
    if extension is not None:
        doc[ENTERPRISE_USER_URN] = extension
    plain: dict[str, Any] = {}
    _put_plain(plain, doc, USER_SCHEMA, False)
    projected: dict[str, Any] = {}
    _put_projected(projected, doc, USER_SCHEMA, (), (), False)
    assert plain == projected
    assert list(plain) == list(projected)
