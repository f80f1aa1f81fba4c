"""PATCH engine: RFC 7644 §3.5.2 examples and every IdP PATCH dialect of idp-traffic §0 and §13."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from bridge.scim.errors import (
    InternalError,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    ScimError,
)
from bridge.scim.patch import PatchOpKind, apply_patch, needs_members, parse_patch
from bridge.scim.resources import clean_input
from bridge.scim.schemas import (
    ENTERPRISE_USER_URN,
    GROUP_SCHEMA,
    GROUP_URN,
    PATCH_OP_URN,
    USER_SCHEMA,
    USER_URN,
)
from tests.scim.samples import load_sample

BJ = "2819c223-7f76-453a-919d-413861904646"
JS = "902c246b-6245-4190-8e05-00816be7344a"


def user() -> dict[str, Any]:
    return clean_input(load_sample("rfc7643-8.2-user-full-subset.json"), USER_SCHEMA) | {"id": BJ}


def group(members: list[str] | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"schemas": [GROUP_URN], "id": "g1", "displayName": "Tour Guides"}
    if members is not None:
        doc["members"] = [{"value": m} for m in members]
    return doc


def patch(doc: dict[str, Any], *ops: dict[str, Any], schema: Any = USER_SCHEMA) -> Any:
    before = copy.deepcopy(doc)
    result = apply_patch(doc, parse_patch({"schemas": [PATCH_OP_URN], "Operations": list(ops)}), schema)
    assert doc == before  # pure: the input is never modified
    return result


# ------------------------------------------------------------------ RFC 7644 §3.5.2 examples


def test_rfc_3_5_2_1_add_member_without_loading_members() -> None:
    ops = parse_patch(load_sample("rfc7644-3.5.2.1-add-members.json"))
    assert not needs_members(ops)
    result = apply_patch(group(None), ops, GROUP_SCHEMA)
    assert result.members_added == (BJ,)
    assert result.members_removed == ()
    assert not result.members_replaced
    assert "members" not in result.document
    assert result.changed == {"members"}


def test_rfc_3_5_2_1_add_member_with_known_list_is_idempotent() -> None:
    ops = parse_patch(load_sample("rfc7644-3.5.2.1-add-members.json"))
    result = apply_patch(group([BJ]), ops, GROUP_SCHEMA)
    assert result.members_added == ()
    assert [m["value"] for m in result.document["members"]] == [BJ]


def test_rfc_3_5_2_1_add_no_path() -> None:
    result = apply_patch(user(), parse_patch(load_sample("rfc7644-3.5.2.1-add-no-path.json")), USER_SCHEMA)
    assert result.document["nickName"] == "Babs"
    assert [e["value"] for e in result.document["emails"]] == ["bjensen@example.com", "babs@jensen.org"]
    assert result.changed == frozenset()  # nickName and the home email were already there


def test_rfc_3_5_2_2_remove_all_members() -> None:
    ops = parse_patch(load_sample("rfc7644-3.5.2.2-remove-all-members.json"))
    assert not needs_members(ops)
    result = apply_patch(group(None), ops, GROUP_SCHEMA)
    assert result.members_replaced
    assert result.document["members"] == []


def test_rfc_3_5_2_2_remove_one_member_by_filter_as_delta() -> None:
    ops = parse_patch(load_sample("rfc7644-3.5.2.2-remove-one-member.json"))
    assert not needs_members(ops)
    result = apply_patch(group(None), ops, GROUP_SCHEMA)
    assert result.members_removed == (BJ,)
    known = apply_patch(group([BJ, JS]), ops, GROUP_SCHEMA)
    assert [m["value"] for m in known.document["members"]] == [JS]
    assert known.members_removed == (BJ,)


def test_rfc_3_5_2_2_remove_email_by_filter() -> None:
    result = apply_patch(
        user(), parse_patch(load_sample("rfc7644-3.5.2.2-remove-email-by-filter.json")), USER_SCHEMA
    )
    assert [e["value"] for e in result.document["emails"]] == ["babs@jensen.org"]


def test_rfc_3_5_2_2_remove_all_then_add() -> None:
    ops = parse_patch(load_sample("rfc7644-3.5.2.2-remove-all-then-add.json"))
    result = apply_patch(group(None), ops, GROUP_SCHEMA)
    assert result.members_replaced
    assert [m["value"] for m in result.document["members"]] == [BJ, JS]
    known = apply_patch(group([BJ, "old"]), ops, GROUP_SCHEMA)
    assert known.members_added == (JS,)
    assert known.members_removed == ("old",)


def test_rfc_3_5_2_3_replace_members() -> None:
    result = apply_patch(
        group(None), parse_patch(load_sample("rfc7644-3.5.2.3-replace-members.json")), GROUP_SCHEMA
    )
    assert result.members_replaced
    assert [m["display"] for m in result.document["members"]] == ["Babs Jensen", "James Smith"]


def test_rfc_3_5_2_3_replace_work_address() -> None:
    ops = parse_patch(load_sample("rfc7644-3.5.2.3-replace-work-address.json"))
    result = apply_patch(user(), ops, USER_SCHEMA)
    (work,) = result.document["addresses"]
    assert work["streetAddress"] == "911 Universal City Plaza"
    assert work["country"] == "US"
    assert result.changed == {"addresses"}


def test_rfc_3_5_2_3_replace_street_address() -> None:
    ops = parse_patch(load_sample("rfc7644-3.5.2.3-replace-street-address.json"))
    result = apply_patch(user(), ops, USER_SCHEMA)
    assert result.document["addresses"][0]["streetAddress"] == "1010 Broadway Ave"
    assert result.document["addresses"][0]["locality"] == "Hollywood"


def test_rfc_3_5_2_3_replace_no_path() -> None:
    result = apply_patch(
        user(), parse_patch(load_sample("rfc7644-3.5.2.3-replace-no-path.json")), USER_SCHEMA
    )
    assert result.document["emails"] == [{"value": "bjensen@example.com", "type": "work", "primary": True}]
    assert result.changed == {"emails"}  # nickName was already "Babs"


# ------------------------------------------------------------------ idp-traffic §0.2: three dialects for active=false


@pytest.mark.parametrize(
    "op",
    [
        {"op": "replace", "path": "active", "value": False},  # Entra flag / MS validator
        {"op": "replace", "value": {"active": False}},  # Okta OIN
        {"op": "Replace", "path": "active", "value": "False"},  # Entra default (§0.3, §0.4)
        {"op": "replace", "path": "active", "value": "false"},  # Entra edited mapping, mitodl Keycloak
        {"op": "REPLACE", "value": {"ACTIVE": "FALSE"}},
    ],
)
def test_deactivate_dialects(op: dict[str, Any]) -> None:
    result = patch(user() | {"active": True}, op)
    assert result.document["active"] is False
    assert result.changed == {"active"}


def test_entra_flag_dotted_and_urn_keys_without_path() -> None:
    result = patch(
        user(),
        {
            "op": "replace",
            "value": {
                "displayName": "Babs J",
                "name.givenName": "Barb",
                "name.familyName": "Jensen-Smith",
                f"{ENTERPRISE_USER_URN}:employeeNumber": "7",
            },
        },
    )
    doc = result.document
    assert doc["name"]["givenName"] == "Barb"
    assert doc["name"]["formatted"] == "Ms. Barbara J Jensen, III"  # untouched sibling
    assert doc[ENTERPRISE_USER_URN] == {"employeeNumber": "7"}
    assert ENTERPRISE_USER_URN in doc["schemas"]
    assert result.changed == {"displayname", "name", ENTERPRISE_USER_URN.lower()}


@pytest.mark.parametrize(
    ("path", "value", "check"),
    [
        ('emails[type eq "work"].Value', "new@x.com", lambda d: d["emails"][0]["value"] == "new@x.com"),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:Department",
            "R&D",
            lambda d: d[ENTERPRISE_USER_URN]["department"] == "R&D",
        ),
        ("NAME.GIVENNAME", "B", lambda d: d["name"]["givenName"] == "B"),
        (
            'emails[Type eq "home"].Primary',
            "True",
            lambda d: [e.get("primary") for e in d["emails"]] == [False, True],
        ),
    ],
)
def test_case_insensitive_paths_and_sub_attributes(
    path: str, value: str, check: Callable[[dict[str, Any]], bool]
) -> None:
    assert check(patch(user(), {"op": "Replace", "path": path, "value": value}).document)


# ------------------------------------------------------------------ §0.5, §0.6: member removal and replacement shapes


@pytest.mark.parametrize(
    ("ops", "added", "removed", "replaced"),
    [
        (
            [{"op": "remove", "path": 'members[value eq "u1"]'}],
            (),
            ("u1",),
            False,
        ),  # Okta, Entra flag, suvera
        (
            [{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}],
            (),
            ("u1", "u2"),
            False,
        ),
        (
            [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": "u3"}, {"value": "u4"}]}],
            ("u3", "u4"),
            (),
            False,
        ),
        (
            [{"op": "add", "path": "members", "value": "u5"}],
            ("u5",),
            (),
            False,
        ),  # bare id (MS Postman garbage)
        (
            [
                {"op": "add", "path": "members", "value": [{"value": "u1", "display": "A"}]},
                {"op": "remove", "path": 'members[value eq "u1"]'},
            ],
            (),
            ("u1",),
            False,
        ),
        ([{"op": "remove", "path": 'members[value eq "a" or value eq "b"]'}], (), ("a", "b"), False),
        ([{"op": "replace", "path": "members", "value": []}], (), (), True),  # Okta "push empty group"
        ([{"op": "remove", "path": "members"}], (), (), True),  # mitodl group-patchOp on empty group
        ([{"op": "replace", "value": {"id": "g1", "displayName": "Renamed"}}], (), (), False),  # Okta rename
    ],
)
def test_member_deltas_without_member_list(
    ops: list[dict[str, Any]], added: tuple[str, ...], removed: tuple[str, ...], replaced: bool
) -> None:
    parsed = parse_patch({"Operations": ops})
    assert not needs_members(parsed)
    result = apply_patch(group(None), parsed, GROUP_SCHEMA)
    assert (result.members_added, result.members_removed, result.members_replaced) == (
        added,
        removed,
        replaced,
    )


def test_okta_rename_ignores_id_and_changes_display_name() -> None:
    result = patch(
        group(None),
        {"op": "replace", "value": {"id": "other", "displayName": "Renamed"}},
        schema=GROUP_SCHEMA,
    )
    assert result.document["id"] == "g1"
    assert result.document["displayName"] == "Renamed"
    assert result.changed == {"displayname"}


def test_filtered_member_removal_by_display_needs_the_list() -> None:
    ops = parse_patch({"Operations": [{"op": "remove", "path": 'members[display eq "Babs"]'}]})
    assert needs_members(ops)
    with pytest.raises(InternalError):
        apply_patch(group(None), ops, GROUP_SCHEMA)
    doc = group(["u1", "u2"])
    doc["members"][0]["display"] = "Babs"
    result = apply_patch(doc, ops, GROUP_SCHEMA)
    assert result.members_removed == ("u1",)
    assert [m["value"] for m in result.document["members"]] == ["u2"]


def test_authentik_whole_group_replace_without_path() -> None:
    body = {
        "op": "replace",
        "value": {"schemas": [GROUP_URN], "id": "g1", "displayName": "G", "members": [{"value": "u9"}]},
    }
    result = patch(group(None), body, schema=GROUP_SCHEMA)
    assert result.members_replaced
    assert result.document["members"] == [{"value": "u9"}]


# ------------------------------------------------------------------ §0.10 create-on-absent, §0.11 manager, primary


def test_entra_filtered_paths_create_and_merge_one_element() -> None:
    doc = clean_input({"userName": "u"}, USER_SCHEMA)
    result = patch(
        doc,
        {"op": "Add", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Main St"},
        {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Springfield"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "u@x.com"},
        {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555"},
    )
    assert result.document["addresses"] == [
        {"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}
    ]
    assert result.document["emails"] == [{"type": "work", "value": "u@x.com"}]
    assert result.document["phoneNumbers"] == [{"type": "mobile", "value": "+1 555"}]


def test_filtered_replace_that_cannot_create_is_no_target() -> None:
    with pytest.raises(NoTarget):
        patch(user(), {"op": "replace", "path": 'emails[value co "zzz"].type', "value": "other"})


@pytest.mark.parametrize(
    "op",
    [
        {"op": "Add", "path": f"{ENTERPRISE_USER_URN}:manager", "value": "mgr-1"},  # Entra: plain string
        {
            "op": "replace",
            "path": "manager",
            "value": [{"$ref": "../Users/mgr-1", "value": "mgr-1"}],
        },  # MS doc shape
        {"op": "replace", "value": {f"{ENTERPRISE_USER_URN}:manager": "mgr-1"}},
        {"op": "add", "path": ENTERPRISE_USER_URN, "value": {"manager": {"value": "mgr-1"}}},
    ],
)
def test_manager_is_stored_complex(op: dict[str, Any]) -> None:
    result = patch(user(), op)
    assert result.document[ENTERPRISE_USER_URN]["manager"]["value"] == "mgr-1"


@pytest.mark.parametrize(
    "op",
    [
        {"op": "Remove", "path": f"{ENTERPRISE_USER_URN}:manager"},
        {
            "op": "Replace",
            "path": f"{ENTERPRISE_USER_URN}:manager",
            "value": "",
        },  # validator "replace with empty"
        {"op": "replace", "path": f"{ENTERPRISE_USER_URN}:manager", "value": None},
    ],
)
def test_manager_removal(op: dict[str, Any]) -> None:
    doc = user() | {
        ENTERPRISE_USER_URN: {"manager": {"value": "m"}},
        "schemas": [USER_URN, ENTERPRISE_USER_URN],
    }
    result = patch(doc, op)
    assert ENTERPRISE_USER_URN not in result.document
    assert result.document["schemas"] == [USER_URN]


def test_new_primary_clears_the_old_one() -> None:
    result = patch(
        user(), {"op": "add", "path": "emails", "value": [{"value": "n@x", "type": "other", "primary": True}]}
    )
    assert [e.get("primary") for e in result.document["emails"]] == [False, None, True]


@pytest.mark.parametrize(
    ("op", "path", "expected"),
    [
        ({"op": "replace", "path": "title", "value": None}, "title", None),
        ({"op": "replace", "path": "title", "value": ""}, "title", None),
        ({"op": "replace", "path": "emails", "value": []}, "emails", None),
        ({"op": "add", "path": "roles", "value": []}, "roles", None),
    ],
)
def test_null_and_empty_clear(op: dict[str, Any], path: str, expected: Any) -> None:
    doc = user() | {"title": "T"}
    assert patch(doc, op).document.get(path) == expected


# ------------------------------------------------------------------ errors, atomicity


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([], InvalidSyntax),
        ({"Operations": []}, InvalidSyntax),
        ({"Operations": [{"op": "move", "path": "x"}]}, InvalidSyntax),
        ({"Operations": [{"op": "remove"}]}, NoTarget),
        ({"Operations": [{"op": "add", "path": "title"}]}, InvalidValue),
        ({"Operations": [{"op": "replace", "value": "x"}]}, InvalidValue),
        ({"Operations": [{"op": "replace", "path": 'emails[type eq "work"', "value": 1}]}, InvalidPath),
        ({"Operations": [{"op": "replace", "path": "emails[type eq]", "value": 1}]}, InvalidPath),
        ({"Operations": [{"op": "replace", "path": "a b", "value": 1}]}, InvalidPath),
    ],
)
def test_parse_errors(body: object, error: type[ScimError]) -> None:
    with pytest.raises(error):
        parse_patch(body)


def test_strict_mode_requires_patchop_schema() -> None:
    with pytest.raises(InvalidSyntax):
        parse_patch({"Operations": [{"op": "add", "path": "title", "value": "x"}]}, strict=True)
    assert (
        parse_patch({"Operations": [{"OP": "ADD", "Path": "title", "Value": "x"}]})[0].op is PatchOpKind.ADD
    )


@pytest.mark.parametrize(
    ("op", "error"),
    [
        ({"op": "replace", "path": "groups", "value": []}, Mutability),
        ({"op": "replace", "path": "active", "value": "maybe"}, InvalidValue),
        ({"op": "remove", "path": "userName"}, InvalidValue),
        ({"op": "replace", "path": 'emails[nope eq "x"].value', "value": "v"}, InvalidPath),
        ({"op": "replace", "path": "userName[value eq 1]", "value": "v"}, InvalidPath),
    ],
)
def test_apply_errors(op: dict[str, Any], error: type[ScimError]) -> None:
    with pytest.raises(error):
        patch(user(), op)


def test_atomic_when_a_later_op_fails() -> None:
    doc = user()
    before = copy.deepcopy(doc)
    ops = parse_patch(
        {
            "Operations": [
                {"op": "replace", "path": "title", "value": "X"},
                {"op": "replace", "path": "active", "value": "nope"},
            ]
        }
    )
    with pytest.raises(InvalidValue):
        apply_patch(doc, ops, USER_SCHEMA)
    assert doc == before


def test_unknown_attributes_and_read_only_ids_are_ignored() -> None:
    result = patch(
        user(),
        {"op": "add", "value": {"id": "x", "meta": {}, "nosuch": 1, "urn:example:custom:2.0:User:tag": "t"}},
    )
    assert result.changed == frozenset()
    assert result.document["id"] == BJ


@pytest.mark.parametrize(
    ("op", "check"),
    [
        (
            {"op": "remove", "path": "emails", "value": [{"value": "babs@jensen.org"}]},
            lambda d: [e["value"] for e in d["emails"]] == ["bjensen@example.com"],
        ),
        (
            {
                "op": "remove",
                "path": "emails",
                "value": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}],
            },
            lambda d: "emails" not in d,
        ),
        (
            {"op": "replace", "path": "emails.type", "value": "other"},
            lambda d: {e["type"] for e in d["emails"]} == {"other"},
        ),
        ({"op": "remove", "path": "emails.value"}, lambda d: "emails" not in d),
        (
            {"op": "remove", "path": "name.givenName"},
            lambda d: "givenName" not in d["name"] and d["name"]["familyName"] == "Jensen",
        ),
        (
            {"op": "add", "path": "phoneNumbers.value", "value": "+1"},
            lambda d: d["phoneNumbers"] == [{"value": "+1"}],
        ),
        (
            {"op": "replace", "path": "emails.primary", "value": True},
            lambda d: [e["primary"] for e in d["emails"]] == [False, True],
        ),
        (
            {"op": "add", "path": "name", "value": {"middleName": "J"}},
            lambda d: d["name"]["middleName"] == "J" and d["name"]["givenName"] == "Barbara",
        ),
        ({"op": "remove", "path": ENTERPRISE_USER_URN}, lambda d: ENTERPRISE_USER_URN not in d),
        (
            {"op": "replace", "path": ENTERPRISE_USER_URN, "value": {"department": "X", "nope": 1}},
            lambda d: d[ENTERPRISE_USER_URN] == {"department": "X"},
        ),
        ({"op": "remove", "path": 'addresses[type eq "work"]'}, lambda d: "addresses" not in d),
        (
            {"op": "remove", "path": 'emails[type eq "none"]'},
            lambda d: len(d["emails"]) == 2,
        ),  # idempotent no-op
        ({"op": "replace", "path": "meta.lastModified", "value": "x"}, lambda d: d["meta"] == {}),
    ],
)
def test_more_paths(op: dict[str, Any], check: Any) -> None:
    doc = user() | {"meta": {}}
    assert check(patch(doc, op).document)


def test_manager_sub_attribute_read_only() -> None:
    with pytest.raises(Mutability):
        patch(user(), {"op": "replace", "path": f"{ENTERPRISE_USER_URN}:manager.displayName", "value": "x"})


# ------------------------------------------------------------------ copies only what it changes


def test_only_what_an_operation_changes_in_place_is_copied() -> None:
    """The result shares the values no operation reached with the input; those an operation changes in place
    (an element's primary flag, a sub-attribute, an extension's attribute) are copies, the input unchanged."""
    doc = user() | {
        ENTERPRISE_USER_URN: {"manager": {"value": "m1"}, "department": "Tour"},
        "emails": [
            {"value": "a@example.com", "type": "work", "primary": True},
            {"value": "b@example.com", "type": "home"},
        ],
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "phoneNumbers": [{"value": "555-1234", "type": "work"}],
        "x509Certificates": [{"value": "MIIC"}],
    }
    before = copy.deepcopy(doc)
    result = apply_patch(
        doc,
        parse_patch(
            {
                "Operations": [
                    {"op": "add", "path": "emails", "value": [{"value": "c@example.com", "primary": True}]},
                    {"op": "replace", "path": "name.givenName", "value": "Babs"},
                    {"op": "replace", "path": 'addresses[type eq "work"].locality', "value": "Oslo"},
                    {"op": "replace", "path": f"{ENTERPRISE_USER_URN}:department", "value": "Ops"},
                    {"op": "replace", "value": {"active": False}},
                ]
            }
        ),
        USER_SCHEMA,
    )
    assert doc == before
    work = result.document
    assert [e.get("primary") for e in work["emails"]] == [False, None, True]
    assert work["name"] == {"givenName": "Babs", "familyName": "Jensen"}
    assert work[ENTERPRISE_USER_URN] == {"manager": {"value": "m1"}, "department": "Ops"}
    assert work["active"] is False
    assert [a["locality"] for a in work["addresses"] if a.get("type") == "work"] == ["Oslo"]
    # Untouched: the input's own objects, not copies (the saving this exists for).
    assert work["phoneNumbers"] is doc["phoneNumbers"]
    assert work["x509Certificates"] is doc["x509Certificates"]


@pytest.mark.parametrize(
    "op",
    [
        {"op": "replace", "path": 'emails[type eq "work"].primary', "value": False},
        {"op": "remove", "path": 'emails[type eq "work"].display'},
        {"op": "add", "path": 'emails[type eq "other"].value', "value": "o@example.com"},
        {"op": "replace", "path": "emails.type", "value": "other"},
        {"op": "remove", "path": "name.middleName"},
        {"op": "replace", "path": "addresses", "value": [{"type": "home", "primary": True}]},
        {"op": "add", "path": "addresses", "value": [{"type": "other", "primary": True}]},
        {"op": "remove", "path": f"{ENTERPRISE_USER_URN}:manager"},
        {"op": "remove", "path": ENTERPRISE_USER_URN},
    ],
)
def test_in_place_changes_leave_the_input_alone(op: dict[str, Any]) -> None:
    doc = user() | {ENTERPRISE_USER_URN: {"manager": {"value": "m1"}, "department": "Tour"}}
    expected = apply_patch(copy.deepcopy(doc), parse_patch({"Operations": [op]}), USER_SCHEMA)
    assert patch(doc, op) == expected
