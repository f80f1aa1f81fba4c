"""The compiled paths (values.coercer_for, resources' input plan) give exactly what the generic rules give.

clean_input answers the usual top-level names from a plan compiled once per schema, and coerces values with
functions compiled once per attribute; the generic path (`coerce`, `_clean_key`) stays for everything else.
These properties draw arbitrary JSON, and attribute names in any letter case, and compare both paths,
errors included.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.scim.compat import _may_name_urn, core_urn_present, normalise_body, normalise_schema_urns
from bridge.scim.errors import InvalidSyntax, ScimError
from bridge.scim.resources import _clean_key, _get_ci, check_required, clean_input, finish_document
from bridge.scim.schemas import ENTERPRISE_USER_URN, GROUP_SCHEMA, USER_SCHEMA, Attribute, ResourceSchema
from bridge.scim.values import check_single_primary, coerce, coercer_for

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from(["", "True", "false", " ", "work", "u1"])
    | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["value", "Value", "type", "primary", "display", "$ref", "givenName", "x"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def _attributes(schema: ResourceSchema) -> Iterator[Attribute]:
    for _, attr in schema.all_attributes():
        yield attr
        yield from attr.sub_attributes


ATTRIBUTES = [*_attributes(USER_SCHEMA), *_attributes(GROUP_SCHEMA)]


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "value", call()
    except ScimError as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=400, deadline=None)
@given(index=st.integers(min_value=0, max_value=len(ATTRIBUTES) - 1), value=json_values)
def test_compiled_coercer_matches_coerce(index: int, value: object) -> None:
    attr = ATTRIBUTES[index]
    compiled = coercer_for(attr)
    assert _outcome(lambda: compiled(value)) == _outcome(lambda: coerce(attr, value))


def _generic_clean(body: dict[str, Any], schema: ResourceSchema, strict: bool) -> dict[str, Any]:
    """clean_input with every member taken by the generic `_clean_key` (no plan)."""
    body = dict(normalise_body(body))
    if strict and not core_urn_present(normalise_schema_urns(_get_ci(body, "schemas")), schema.core.id):
        raise InvalidSyntax(f"schemas must contain {schema.core.id}")
    doc: dict[str, Any] = {}
    for key, value in body.items():
        _clean_key(doc, schema, key, value, strict=strict)
    check_required(doc, schema)
    finish_document(doc, schema)
    return doc


def _names(schema: ResourceSchema) -> list[str]:
    names = [attr.name for _, attr in schema.all_attributes()]
    return [*names, "name.givenName", ENTERPRISE_USER_URN, "unknownThing", "urn:x:y"]


@settings(max_examples=300, deadline=None)
@given(
    group=st.booleans(),
    strict=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**32),
    values=st.lists(json_values, min_size=1, max_size=8),
)
def test_planned_clean_input_matches_generic(group: bool, strict: bool, seed: int, values: list[Any]) -> None:
    schema = GROUP_SCHEMA if group else USER_SCHEMA
    rng = random.Random(seed)
    body: dict[str, Any] = {"userName" if not group else "displayName": "required-x"}
    for value in values:
        name = rng.choice(_names(schema))
        spelled = "".join(c.upper() if rng.random() < 0.3 else c for c in name)
        body[rng.choice([name, name.lower(), spelled])] = value
    assert _outcome(lambda: clean_input(body, schema, strict=strict)) == _outcome(
        lambda: _generic_clean(body, schema, strict)
    )


def test_plan_sees_an_okta_body_like_the_generic_path() -> None:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada@example.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": None},
        "emails": [{"primary": True, "value": "ada@example.com", "type": "work", "bogus": 1}],
        "active": "True",
        "id": "client-sent",
        "groups": [{"value": "g1"}],
    }
    cleaned = clean_input(body, USER_SCHEMA)
    assert cleaned == _generic_clean(body, USER_SCHEMA, False)
    assert cleaned["active"] is True
    assert "id" not in cleaned  # server-set
    assert "groups" not in cleaned  # readOnly
    assert cleaned["emails"] == [{"primary": True, "value": "ada@example.com", "type": "work"}]


# Names near "urn:" in any case, with NUL, and characters whose lowercase is longer or ASCII (İ, the Kelvin sign).
_NEAR_URN = st.text(
    alphabet=st.sampled_from(["u", "U", "r", "R", "n", "N", ":", "\x00", "a", "\u0130", "\u212a"])
)


@settings(max_examples=300, deadline=None)
@given(names=st.lists(st.one_of(_NEAR_URN, st.text(max_size=8)), max_size=6))
def test_urn_screen_finds_every_urn_named_member(names: list[str]) -> None:
    """normalise_body's one-pass screen says yes for every body with a member named urn:... (any case), as the
    rule per name did; without NUL in a name it says exactly that."""
    body = dict.fromkeys(names, 1)
    per_name = any(name[:4].lower() == "urn:" for name in body)
    if per_name:
        assert _may_name_urn(body)
    if not any("\x00" in name for name in body):
        assert _may_name_urn(body) == per_name
    if not per_name:  # no rule applies, whichever way the screen sent the body
        assert dict(normalise_body(body)) == body


@given(
    values=st.lists(
        st.dictionaries(
            st.sampled_from(["primary", "value"]), st.sampled_from([True, False, "true", 1, None])
        ),
        max_size=4,
    )
)
def test_single_primary_check_counts_true_alone(values: list[dict[str, object]]) -> None:
    emails = USER_SCHEMA.resolve("emails")
    assert emails is not None
    trues = sum(1 for v in values if v.get("primary") is True)
    assert _outcome(lambda: check_single_primary(emails.attribute, values)) == (
        ("value", None) if trues <= 1 else ("InvalidValue", "only one of emails may be primary")
    )
