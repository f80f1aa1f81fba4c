"""Filter grammar, tolerance, evaluation and SQL compilation (RFC 7644 §3.4.2.2, idp-traffic §0.7, §13)."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.scim.errors import InvalidFilter, InvalidValue
from bridge.scim.filters import (
    And,
    AttrPath,
    Compare,
    CompareOp,
    Not,
    Or,
    Present,
    SqlMapping,
    ValuePath,
    compile_sql,
    format_filter,
    matches,
    parse_filter,
    sort_sql,
)
from bridge.scim.schemas import ENTERPRISE_USER_URN, GROUP_SCHEMA, USER_SCHEMA

# RFC 7644 §3.4.2.2, the example filters in order.
RFC_EXAMPLES = [
    'userName eq "bjensen"',
    'name.familyName co "O\'Malley"',
    'userName sw "J"',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"',
    "title pr",
    'meta.lastModified gt "2011-05-13T04:42:34Z"',
    'meta.lastModified ge "2011-05-13T04:42:34Z"',
    'meta.lastModified lt "2011-05-13T04:42:34Z"',
    'meta.lastModified le "2011-05-13T04:42:34Z"',
    'title pr and userType eq "Employee"',
    'title pr or userType eq "Intern"',
    'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"',
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    'userType eq "Employee" and (emails.type eq "work")',
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
    'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
]

BJENSEN: dict[str, Any] = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ],
    "id": "2819c223",
    "userName": "bjensen",
    "name": {"familyName": "O'Malley", "givenName": "Barbara"},
    "title": "Tour Guide",
    "userType": "Employee",
    "active": True,
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
    "ims": [{"value": "bjensen@foo.com", "type": "xmpp"}],
    "meta": {"lastModified": "2011-05-13T04:42:34Z"},
    ENTERPRISE_USER_URN: {"employeeNumber": "701984", "department": "Tour Operations"},
}

RFC_EXPECTED = [
    True,
    True,
    False,
    False,
    True,
    False,
    True,
    False,
    True,
    True,
    True,
    True,
    True,
    False,
    True,
    True,
    True,
]


@pytest.mark.parametrize(("text", "expected"), list(zip(RFC_EXAMPLES, RFC_EXPECTED, strict=True)))
def test_rfc_examples_parse_roundtrip_and_match(text: str, expected: bool) -> None:
    f = parse_filter(text)
    assert parse_filter(format_filter(f)) == f
    assert matches(f, BJENSEN, USER_SCHEMA) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Entra / authentik ≤ 2025.6 unquoted values (idp-traffic §0.7)
        ("externalId eq jyoung", Compare(AttrPath(None, "externalId"), CompareOp.EQ, "jyoung")),
        (
            "userName eq bjensen@example.com",
            Compare(AttrPath(None, "userName"), CompareOp.EQ, "bjensen@example.com"),
        ),
        # PingOne's default `username Eq "%s"` (idp-traffic §13: capitalised operator)
        ('username Eq "x"', Compare(AttrPath(None, "username"), CompareOp.EQ, "x")),
        (
            'userName EQ "x" AND active Eq TRUE',
            And(
                (
                    Compare(AttrPath(None, "userName"), CompareOp.EQ, "x"),
                    Compare(AttrPath(None, "active"), CompareOp.EQ, True),
                )
            ),
        ),
        # undecoded `+` for spaces (Entra validator traffic); `+` inside quotes is kept
        ('userName+eq+"a+b@x.com"', Compare(AttrPath(None, "userName"), CompareOp.EQ, "a+b@x.com")),
        # Entra user matching by `emails[type eq "work"].value eq "…"`
        (
            'emails[type eq "work"].value eq "a@x"',
            ValuePath(
                AttrPath(None, "emails"),
                And(
                    (
                        Compare(AttrPath(None, "type"), CompareOp.EQ, "work"),
                        Compare(AttrPath(None, "value"), CompareOp.EQ, "a@x"),
                    )
                ),
            ),
        ),
        # numbers: leading zeros stay strings (an unquoted id), plain numbers are numbers
        ("externalId eq 007", Compare(AttrPath(None, "externalId"), CompareOp.EQ, "007")),
        ("x eq 12", Compare(AttrPath(None, "x"), CompareOp.EQ, 12)),
        ("x eq -1.5e3", Compare(AttrPath(None, "x"), CompareOp.EQ, -1500.0)),
        ("x eq null", Compare(AttrPath(None, "x"), CompareOp.EQ, None)),
        ("not(title pr)", Not(Present(AttrPath(None, "title")))),
        ("a pr or b pr or (c pr or d pr)", Or(tuple(Present(AttrPath(None, n)) for n in "abcd"))),
        (
            'displayName eq "Sales \\"EU\\""',
            Compare(AttrPath(None, "displayName"), CompareOp.EQ, 'Sales "EU"'),
        ),
    ],
)
def test_tolerated_and_edge_syntax(text: str, expected: object) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("", "empty"),
        ("userName", "expected an operator"),
        ("userName eq", "expected a value"),
        ('userName eqq "x"', "unknown operator 'eqq'"),
        ('userName eq "x', "unterminated string"),
        ('(userName eq "x"', "expected ')'"),
        ('userName eq "x")', "unexpected ')'"),
        ('emails[type eq "work"', "expected ']'"),
        ('emails[type[value eq "x"] eq "y"]', "nested value filter"),
        ('not userName eq "x"', "expected '(' after 'not'"),
        ('1abc eq "x"', "invalid attribute path"),
        ('userName eq "x" and', "expected an attribute path"),
        ("(" * 70 + "title pr" + ")" * 70, "nests deeper"),
    ],
)
def test_malformed_filters_are_invalid_filter_with_detail(text: str, detail: str) -> None:
    with pytest.raises(InvalidFilter) as err:
        parse_filter(text)
    assert detail in err.value.detail
    assert err.value.to_body()["scimType"] == "invalidFilter"


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ('nickname2 eq "x"', "unknown attribute"),
        ('urn:example:custom:2.0:User:tag eq "x"', "unknown attribute"),
        ("active gt true", "not defined for boolean"),
        ('name eq "x"', "complex"),
        ('password eq "x"', "cannot be used"),
        ('userName[value eq "x"]', "not a complex attribute"),
        ('emails[nope eq "x"]', "unknown sub-attribute"),
    ],
)
def test_semantic_errors_in_both_back_ends(text: str, detail: str) -> None:
    f = parse_filter(text)
    with pytest.raises(InvalidFilter) as err:
        matches(f, BJENSEN, USER_SCHEMA)
    assert detail in err.value.detail
    with pytest.raises(InvalidFilter):
        compile_sql(f, USER_SCHEMA, SqlMapping("u.doc"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('USERNAME eq "BJENSEN"', True),  # Okta SPEC test: upper-cased userName must match
        ('externalId eq "X"', False),  # caseExact
        ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"', True),
        ('URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:department sw "tour"', True),
        ('active eq "True"', True),  # Entra string booleans in filters too
        ("active ne false", True),
        ("nickName eq null", True),
        ("title ne null", True),
        ('emails[type eq "work"].value ew "EXAMPLE.COM"', True),
        ("emails.primary eq true", True),
        ('name[givenName sw "bar"]', True),
        ('title co ""', True),
        ('displayName eq "x" or not (emails pr)', False),
    ],
)
def test_matching_semantics(text: str, expected: bool) -> None:
    doc = {**BJENSEN, "externalId": "x"}
    assert matches(parse_filter(text), doc, USER_SCHEMA) is expected


def test_sql_uses_params_and_trusted_names_only() -> None:
    mapping = SqlMapping("u.doc", {"username": "u.user_name"})
    sql, params = compile_sql(parse_filter('userName eq "x\' OR 1=1 --"'), USER_SCHEMA, mapping)
    assert params == ["x' OR 1=1 --"]
    assert sql == "u.user_name = ? COLLATE NOCASE"


def test_okta_lookup_compiles_to_one_indexable_comparison() -> None:
    mapping = SqlMapping("g.doc", {"displayname": "g.display_name"})
    assert compile_sql(parse_filter('displayName eq "Eng"'), GROUP_SCHEMA, mapping) == (
        "g.display_name = ? COLLATE NOCASE",
        ["Eng"],
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("userName", "u.user_name COLLATE NOCASE"),
        ("externalId", "json_extract(u.doc, '$.\"externalId\"')"),
        ("name.familyName", 'json_extract(u.doc, \'$."name"."familyName"\') COLLATE NOCASE'),
    ],
)
def test_sort_sql(path: str, expected: str) -> None:
    assert sort_sql(path, USER_SCHEMA, SqlMapping("u.doc", {"username": "u.user_name"})) == expected


def test_sort_sql_multi_valued_and_unknown() -> None:
    assert "ORDER BY" in sort_sql("emails", USER_SCHEMA, SqlMapping("u.doc"))
    with pytest.raises(InvalidValue):
        sort_sql("nope", USER_SCHEMA, SqlMapping("u.doc"))
