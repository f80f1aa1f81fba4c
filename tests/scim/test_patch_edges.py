"""PATCH engine edges the RFC examples and IdP dialects of test_patch.py leave out: path grammar errors,
quoted brackets, whole-extension values, filters on a single-valued complex attribute, sub-attributes
through a value filter, and member edits that need the group's member list."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.scim.errors import InvalidPath, InvalidValue, Mutability, NoTarget
from bridge.scim.filter_syntax import Compare
from bridge.scim.patch import (
    PatchOpKind,
    _changed,
    _parse_path,
    apply_patch,
    needs_members,
    parse_patch,
    parse_path,
)
from bridge.scim.schemas import ENTERPRISE_USER_URN, GROUP_SCHEMA
from tests.scim.test_patch import group, patch, user


@pytest.mark.parametrize(
    "path",
    [
        '[type eq "work"].value',  # no attribute before the filter
        'name.givenName[value eq "x"]',  # a sub-attribute cannot carry a filter
        'emails[type eq "work"]value',  # the sub-attribute needs its dot
        'emails[type eq "work"].',  # ... and a name after it
        'emails[type eq "work"].value.x',
    ],
)
def test_malformed_filtered_paths_are_invalid_path(path: str) -> None:
    with pytest.raises(InvalidPath):
        parse_patch({"Operations": [{"op": "replace", "path": path, "value": "v"}]})


def test_a_path_that_is_not_a_string_is_invalid_path() -> None:
    with pytest.raises(InvalidPath, match=r"Operations\[1\]\.path must be a string"):
        parse_patch(
            {"Operations": [{"op": "replace", "path": "title", "value": "x"}, {"op": "remove", "path": 7}]}
        )


def test_an_escaped_quote_and_a_bracket_inside_a_filter_string_do_not_end_the_filter() -> None:
    parsed = parse_path(r'emails[value eq "a\"]b"].type')
    assert (parsed.attr_path, parsed.sub) == ("emails", "type")
    assert isinstance(parsed.filter, Compare)
    assert parsed.filter.value == 'a"]b'


def test_a_filtered_replace_edits_only_the_element_whose_quoted_value_holds_a_bracket() -> None:
    doc = user() | {"emails": [{"value": 'x]"y@example.com', "type": "work"}, {"value": "z@example.com"}]}
    result = patch(
        doc, {"op": "replace", "path": r'emails[value eq "x]\"y@example.com"].type', "value": "home"}
    )
    assert [e.get("type") for e in result.document["emails"]] == ["home", None]


def _enterprise() -> dict[str, Any]:
    return user() | {ENTERPRISE_USER_URN: {"department": "Tour Operations", "manager": {"value": "m1"}}}


def test_replacing_the_extension_with_null_drops_it_and_adding_null_keeps_it() -> None:
    dropped = patch(_enterprise(), {"op": "replace", "path": ENTERPRISE_USER_URN, "value": None})
    assert ENTERPRISE_USER_URN not in dropped.document
    assert ENTERPRISE_USER_URN not in dropped.document["schemas"]
    assert ENTERPRISE_USER_URN.lower() in dropped.changed
    kept = patch(_enterprise(), {"op": "add", "path": ENTERPRISE_USER_URN, "value": None})
    assert kept.document[ENTERPRISE_USER_URN] == _enterprise()[ENTERPRISE_USER_URN]
    assert kept.changed == frozenset()


def test_an_extension_value_that_is_not_an_object_is_invalid_value() -> None:
    with pytest.raises(InvalidValue, match="must be an object"):
        patch(_enterprise(), {"op": "replace", "path": ENTERPRISE_USER_URN, "value": "Engineering"})


def test_removing_from_an_extension_the_user_does_not_have_changes_nothing() -> None:
    bare = {k: v for k, v in user().items() if k != ENTERPRISE_USER_URN}
    for path in (f"{ENTERPRISE_USER_URN}:department", f"{ENTERPRISE_USER_URN}:manager.value"):
        result = patch(bare, {"op": "remove", "path": path})
        assert result.document == bare
        assert result.changed == frozenset()
    filtered = patch(bare, {"op": "remove", "path": f'{ENTERPRISE_USER_URN}:manager[value eq "x"]'})
    assert filtered.document == bare


def test_a_value_filter_on_the_single_valued_name_edits_it_only_when_it_matches() -> None:
    hit = patch(user(), {"op": "replace", "path": 'name[givenName eq "Barbara"].familyName', "value": "J"})
    assert hit.document["name"]["familyName"] == "J"
    assert hit.document["name"]["givenName"] == "Barbara"
    removed = patch(user(), {"op": "remove", "path": 'name[givenName eq "Barbara"]'})
    assert "name" not in removed.document
    missed = patch(user(), {"op": "remove", "path": 'name[givenName eq "Nobody"]'})
    assert missed.document["name"] == user()["name"]


def test_removing_a_sub_attribute_through_a_filter_keeps_the_element() -> None:
    result = patch(user(), {"op": "remove", "path": 'emails[type eq "work"].type'})
    work, home = result.document["emails"]
    assert "type" not in work
    assert work["value"] == "bjensen@example.com"
    assert home["type"] == "home"


def test_an_unknown_sub_attribute_after_a_filter_is_ignored_like_an_unknown_attribute() -> None:
    result = patch(user(), {"op": "replace", "path": 'emails[type eq "work"].nosuch', "value": "x"})
    assert result.document == user()


def test_a_filtered_add_cannot_create_an_element_from_an_unknown_sub_attribute_or_null() -> None:
    bare = {k: v for k, v in user().items() if k != "phoneNumbers"}
    with pytest.raises(InvalidPath, match="unknown sub-attribute 'nosuch'"):
        patch(bare, {"op": "add", "path": 'phoneNumbers[nosuch eq "x"]', "value": {"value": "+1"}})
    for path in ("phoneNumbers[type eq null]", 'phoneNumbers[type eq "work" and display eq null]'):
        with pytest.raises(NoTarget):
            patch(bare, {"op": "add", "path": path, "value": {"value": "+1"}})


def test_a_read_only_sub_attribute_behind_a_filter_is_refused() -> None:
    path = f'{ENTERPRISE_USER_URN}:manager[value eq "m1"].displayName'
    with pytest.raises(Mutability, match=r"manager\.displayName is read-only"):
        patch(_enterprise(), {"op": "replace", "path": path, "value": "Boss"})


def test_a_member_display_replaced_through_a_filter_needs_the_list_and_moves_nobody() -> None:
    ops = parse_patch(
        {"Operations": [{"op": "replace", "path": 'members[value eq "u1"].display', "value": "Alice"}]}
    )
    assert needs_members(ops)
    result = apply_patch(group(["u1", "u2"]), ops, GROUP_SCHEMA)
    assert result.document["members"] == [{"value": "u1", "display": "Alice"}, {"value": "u2"}]
    assert (result.members_added, result.members_removed, result.members_replaced) == ((), (), False)


@pytest.mark.parametrize("op", ["add", "replace", "remove"])
@pytest.mark.parametrize(
    "path", ['members[value eq "u1"].value', "members.value", 'members[value eq "u1"].type', "members.$ref"]
)
def test_a_members_identity_is_immutable_in_place(op: str, path: str) -> None:
    """RFC 7643 §4.2: value, $ref and type of a member are immutable. Replacing members[value eq "u1"].value
    swapped u1 for another member; membership changes are adds and removes of whole members."""
    ops = parse_patch({"Operations": [{"op": op, "path": path, "value": "u9"}]})
    with pytest.raises(Mutability, match=r"members\.(value|type|\$ref) is immutable"):
        apply_patch(group(["u1", "u2"]), ops, GROUP_SCHEMA)


def test_a_member_filter_beyond_value_eq_removes_through_the_list() -> None:
    ops = parse_patch({"Operations": [{"op": "remove", "path": 'members[value eq "u1" or value sw "u3"]'}]})
    assert needs_members(ops)
    doc = group(["u1", "u2", "u30"])
    result = apply_patch(doc, ops, GROUP_SCHEMA)
    assert [m["value"] for m in result.document["members"]] == ["u2"]
    assert result.members_removed == ("u1", "u30")
    assert result.members_added == ()


def test_removing_members_by_value_list_and_an_add_to_an_unloaded_group_are_deltas() -> None:
    ops = parse_patch(
        {
            "Operations": [
                {"op": "remove", "path": "members", "value": [{"value": "u1"}]},
                {"op": "add", "path": "members", "value": [{"value": "u2"}, {"value": "u2"}]},
            ]
        }
    )
    assert not needs_members(ops)
    result = apply_patch(group(None), ops, GROUP_SCHEMA)
    assert (result.members_added, result.members_removed) == (("u2",), ("u1",))
    assert "members" not in result.document


def test_a_no_path_value_with_an_invalid_key_is_invalid_path() -> None:
    with pytest.raises(InvalidPath, match="invalid attribute name"):
        patch(user(), {"op": "replace", "value": {"title": "x", "bad key!": 1}})


def test_op_names_are_trimmed_and_case_insensitive() -> None:
    (op,) = parse_patch({"operations": [{"OP": " Remove ", "PATH": "title"}]})
    assert op.op is PatchOpKind.REMOVE
    assert op.path is not None
    assert op.path.attr_path == "title"


def test_removing_values_from_an_absent_multi_valued_attribute_changes_nothing() -> None:
    bare = {k: v for k, v in user().items() if k != "phoneNumbers"}
    result = patch(bare, {"op": "remove", "path": "phoneNumbers", "value": [{"value": "+1"}]})
    assert result.document == bare


_NAMES = st.sampled_from(["active", "Active", "schemas", "members", "emails", "name", "userName"])
_DOCS = st.dictionaries(_NAMES, st.none() | st.booleans() | st.lists(st.integers(), max_size=2), max_size=5)


@given(before=_DOCS, after=_DOCS)
def test_changed_names_are_those_whose_values_differ(before: dict[str, Any], after: dict[str, Any]) -> None:
    """`_changed` walks each document once; it finds what comparing over the union of both name sets finds."""
    names = set(before) | set(after)
    expected = {n.lower() for n in names if n not in ("schemas", "members") and before.get(n) != after.get(n)}
    assert _changed(before, after) == expected


@pytest.mark.parametrize(
    "text",
    ["active", " active ", "name.givenName", "urn:ietf:params:scim:schemas:core:2.0:User:active", "a b", ""],
)
def test_kept_attribute_paths_parse_as_a_fresh_parse_does(text: str) -> None:
    def outcome() -> object:
        try:
            return parse_path(text)
        except InvalidPath as err:
            return ("InvalidPath", err.detail)

    first = outcome()
    assert outcome() == first  # answered from the kept parse, or refused again
    try:
        fresh: object = _parse_path(text)
    except InvalidPath as err:
        fresh = ("InvalidPath", err.detail)
    assert first == fresh
