"""Property tests: filters round-trip through text, and SQL agrees with in-memory matching."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.scim.errors import InvalidFilter
from bridge.scim.filters import (
    And,
    AttrPath,
    Compare,
    CompareOp,
    Filter,
    MultiValuedSql,
    Not,
    Or,
    Present,
    SqlMapping,
    ValuePath,
    compile_sql,
    format_filter,
    matches,
    parse_filter,
)
from bridge.scim.schemas import ENTERPRISE_USER_URN, USER_SCHEMA, USER_URN

# ---------------------------------------------------------------- round trip over arbitrary ASTs

_KEYWORDS = {"not", "and", "or"}
names = st.from_regex(r"[A-Za-z$][A-Za-z0-9_$-]{0,8}", fullmatch=True).filter(
    lambda n: n.lower() not in _KEYWORDS
)
urns = st.sampled_from([None, USER_URN, ENTERPRISE_USER_URN, "urn:example:ext:1.0:X"])
literals = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
paths = st.builds(AttrPath, urns, names, st.one_of(st.none(), names))
leaf_paths = st.builds(AttrPath, st.none(), names, st.none())


def _leaves(path_strategy: st.SearchStrategy[AttrPath]) -> st.SearchStrategy[Filter]:
    return st.one_of(
        st.builds(Present, path_strategy),
        st.builds(Compare, path_strategy, st.sampled_from(list(CompareOp)), literals),
    )


def _combine(children: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
    def flat(kind: type[And] | type[Or], items: list[Filter]) -> Filter:
        out: list[Filter] = []
        for i in items:
            out.extend(i.items if isinstance(i, kind) else [i])
        return kind(tuple(out))

    return st.one_of(
        st.builds(Not, children),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: flat(And, xs)),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: flat(Or, xs)),
    )


inner_filters = st.recursive(_leaves(leaf_paths), _combine, max_leaves=4)
filters = st.recursive(
    st.one_of(
        _leaves(paths), st.builds(ValuePath, st.builds(AttrPath, urns, names, st.none()), inner_filters)
    ),
    _combine,
    max_leaves=8,
)


@given(filters)
@settings(max_examples=300)
def test_format_parse_roundtrip(f: Filter) -> None:
    text = format_filter(f)
    assert parse_filter(text) == f


@given(st.text(max_size=40))
@settings(max_examples=300)
def test_parser_raises_only_invalid_filter(text: str) -> None:
    try:
        f = parse_filter(text)
    except InvalidFilter:
        return
    assert parse_filter(format_filter(f)) == f


# ---------------------------------------------------------------- SQL ⇔ matches over random data

WORDS = ["a", "A", "ab", "aB", "b", "ba", "", "É", "é", "x@y", "Ab@y.com"]
words = st.sampled_from(WORDS)
maybe_words = st.one_of(words, words, words, st.none())  # mostly present: collisions are the point


def _strip_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


emails = st.lists(
    st.builds(
        lambda v, t, p: _strip_none({"value": v, "type": t, "primary": p}),
        maybe_words,
        maybe_words,
        st.one_of(st.none(), st.booleans()),
    ),
    max_size=3,
)
phones = st.lists(
    st.builds(lambda v, t: _strip_none({"value": v, "type": t}), maybe_words, maybe_words), max_size=2
)
docs = st.builds(
    lambda un, dn, ext, act, given, fam, em, ph, emp, created: _strip_none(
        {
            "schemas": [USER_URN, ENTERPRISE_USER_URN] if emp is not None else [USER_URN],
            "userName": un,
            "displayName": dn,
            "externalId": ext,
            "active": act,
            "name": _strip_none({"givenName": given, "familyName": fam}) or None,
            "emails": em or None,
            "phoneNumbers": ph or None,
            ENTERPRISE_USER_URN: {"employeeNumber": emp} if emp is not None else None,
            "meta": {"created": created},
        }
    ),
    maybe_words,
    maybe_words,
    maybe_words,
    st.one_of(st.none(), st.booleans()),
    maybe_words,
    maybe_words,
    emails,
    phones,
    maybe_words,
    st.sampled_from(["2020-01-01T00:00:00Z", "2021-06-01T12:00:00Z", "2019-12-31T23:59:59Z"]),
)

TOP_PATHS = [
    "userName",
    "displayName",
    "externalId",
    "active",
    "name.givenName",
    "NAME.familyname",
    "emails",
    "emails.value",
    "emails.type",
    "emails.primary",
    "phoneNumbers.value",
    "phoneNumbers",
    "meta.created",
    "schemas",
    "name",
    f"{ENTERPRISE_USER_URN}:employeeNumber",
    "title",
]
literal_values = st.one_of(
    st.none(), words, st.booleans(), st.sampled_from(["True", "false", 3, "2020-06-01T00:00:00Z"])
)
ops = st.sampled_from(list(CompareOp))


def _path(text: str) -> AttrPath:
    f = parse_filter(f"{text} pr")
    assert isinstance(f, Present)
    return f.path


top_leaf = st.one_of(
    st.builds(Present, st.sampled_from(TOP_PATHS).map(_path)),
    st.builds(Compare, st.sampled_from(TOP_PATHS).map(_path), ops, literal_values),
)
element_leaf = st.one_of(
    st.builds(Present, st.sampled_from(["value", "type", "primary"]).map(_path)),
    st.builds(Compare, st.sampled_from(["value", "TYPE", "primary"]).map(_path), ops, literal_values),
)
value_paths = st.builds(
    ValuePath,
    st.sampled_from(["emails", "phoneNumbers"]).map(_path),
    st.recursive(element_leaf, _combine, max_leaves=3),
)
random_filters = st.recursive(st.one_of(top_leaf, value_paths), _combine, max_leaves=6)

MAPPING = SqlMapping(
    document="u.doc",
    columns={
        "username": "u.user_name",
        "externalid": "u.external_id",
        "active": "u.active",
        "meta.created": "u.created",
        f"{ENTERPRISE_USER_URN.lower()}:employeenumber": "u.employee_number",
    },
    multi_valued={
        "emails": MultiValuedSql(
            "FROM emails AS m WHERE m.user_pk = u.pk",
            {"value": "m.value", "type": "m.type", "primary": "m.is_primary"},
            owner_key="u.pk",
            keys_select="SELECT m.user_pk FROM emails AS m",
        )
    },
)


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        """
        CREATE TABLE users (pk INTEGER PRIMARY KEY, doc TEXT NOT NULL, user_name TEXT COLLATE NOCASE,
                            external_id TEXT, active INTEGER, created TEXT,
                            employee_number TEXT);
        CREATE TABLE emails (user_pk INTEGER, value TEXT COLLATE NOCASE, type TEXT, is_primary INTEGER);
        """
    )
    yield conn
    conn.close()


def _load(conn: sqlite3.Connection, documents: list[dict[str, Any]]) -> None:
    conn.execute("DELETE FROM users")
    conn.execute("DELETE FROM emails")
    for pk, doc in enumerate(documents):
        conn.execute(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                pk,
                json.dumps(doc),
                doc.get("userName"),
                doc.get("externalId"),
                doc.get("active"),
                doc["meta"]["created"],
                doc.get(ENTERPRISE_USER_URN, {}).get("employeeNumber"),
            ),
        )
        for e in doc.get("emails", []):
            conn.execute(
                "INSERT INTO emails VALUES (?, ?, ?, ?)",
                (pk, e.get("value"), e.get("type"), e.get("primary")),
            )


def _python(f: Filter, documents: list[dict[str, Any]]) -> set[int] | str:
    try:
        return {pk for pk, d in enumerate(documents) if matches(f, d, USER_SCHEMA)}
    except InvalidFilter:
        return "invalid"


def _sql(conn: sqlite3.Connection, f: Filter) -> set[int] | str:
    try:
        where, params = compile_sql(f, USER_SCHEMA, MAPPING)
    except InvalidFilter:
        return "invalid"
    rows = conn.execute(f"SELECT pk FROM users AS u WHERE {where}", params).fetchall()  # noqa: S608 - trusted SQL
    return {r[0] for r in rows}


@given(st.lists(docs, min_size=1, max_size=6), random_filters)
@settings(max_examples=600, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_sql_and_matches_agree(db: sqlite3.Connection, documents: list[dict[str, Any]], f: Filter) -> None:
    _load(db, documents)
    # the same filter also survives a text round trip
    assert parse_filter(format_filter(f)) == f
    assert _sql(db, f) == _python(f, documents)
