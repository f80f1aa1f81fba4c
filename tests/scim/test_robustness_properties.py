"""Hypothesis: PATCH and clean_input raise nothing but ScimError on arbitrary JSON, and never touch input."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.scim.errors import ScimError
from bridge.scim.patch import apply_patch, parse_patch
from bridge.scim.resources import clean_input, render
from bridge.scim.schemas import ENTERPRISE_USER_URN, GROUP_SCHEMA, USER_SCHEMA, USER_URN

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
PATHS = [
    "active",
    "userName",
    "name.givenName",
    "emails",
    "emails.value",
    'emails[type eq "work"].value',
    'emails[type eq "work"]',
    'addresses[type eq "work"].streetAddress',
    f"{ENTERPRISE_USER_URN}:manager",
    ENTERPRISE_USER_URN,
    "members",
    'members[value eq "u1"]',
    'members[display eq "x"].display',
    "members.value",
    "displayName",
    "groups",
    "id",
    "meta.created",
    "urn:x:y:tag",
    "emails[",
    "a b",
    "",
    "roles",
    "x509Certificates",
    'phoneNumbers[type eq "mobile" or primary eq true].value',
    "name",
    "title",
]
keys = st.sampled_from(
    [
        "userName",
        "name",
        "name.givenName",
        "emails",
        "active",
        "members",
        "displayName",
        ENTERPRISE_USER_URN,
        "id",
    ]
) | st.text(max_size=6)
values = json_values | st.dictionaries(keys, json_values, max_size=4)
operations = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "Replace", "remove", "REMOVE", "copy"])},
    optional={"path": st.sampled_from(PATHS) | st.text(max_size=12), "value": values},
)
bodies = st.fixed_dictionaries({"Operations": st.lists(operations, max_size=5)}) | json_values

BASE_USER: dict[str, Any] = {
    "schemas": [USER_URN, ENTERPRISE_USER_URN],
    "id": "u1",
    "userName": "bjensen",
    "name": {"givenName": "B"},
    "emails": [{"value": "a@x", "type": "work", "primary": True}],
    ENTERPRISE_USER_URN: {"manager": {"value": "m"}},
}


@given(bodies)
@settings(max_examples=500)
def test_patch_raises_only_scim_errors(body: object) -> None:
    for schema, doc in (
        (USER_SCHEMA, BASE_USER),
        (
            GROUP_SCHEMA,
            {"schemas": [], "id": "g", "displayName": "G", "members": [{"value": "u1", "display": "x"}]},
        ),
        (GROUP_SCHEMA, {"id": "g", "displayName": "G"}),
    ):
        before = copy.deepcopy(doc)
        try:
            result = apply_patch(doc, parse_patch(body), schema)
        except ScimError:
            pass
        else:
            render(result.document, schema, location="l")
        assert doc == before


@given(json_values | st.dictionaries(keys, json_values, max_size=6))
@settings(max_examples=500)
def test_clean_input_raises_only_scim_errors(body: object) -> None:
    for schema in (USER_SCHEMA, GROUP_SCHEMA):
        for strict in (False, True):
            before = copy.deepcopy(body)
            try:
                doc = clean_input(body, schema, strict=strict)
            except ScimError:
                continue
            finally:
                assert body == before
            # a cleaned document is a fixed point and renders
            assert clean_input(doc, schema) == doc
            render(doc, schema, location="l")
