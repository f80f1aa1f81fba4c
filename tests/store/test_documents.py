"""encode_doc: the stored text of a document reads back as the value json would have written, and what json
refuses to write (NaN, infinities, other types) is refused with json's reason; json_array for json_each."""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bridge.store import InvalidDocument
from bridge.store.codec import decode_doc, encode_doc, encode_doc_as_read, json_array

_JSON_WRITER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(),
    # Around the surrogates: orjson refuses a lone one, json writes it.
    st.text(alphabet=st.characters(min_codepoint=0xD700, max_codepoint=0xE000, exclude_categories=[])),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)
_DOCUMENTS = st.dictionaries(st.sampled_from(["userName", "name", "x", "emails", "nickName"]), _VALUES)


def _json_text(doc: dict[str, Any]) -> str | None:
    """What the store wrote before orjson (None: json refused it)."""
    try:
        return _JSON_WRITER.encode(doc)
    except (TypeError, ValueError):
        return None


def _has_float(value: object) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


@given(_DOCUMENTS)
def test_a_stored_document_reads_back_as_json_wrote_it(doc: dict[str, Any]) -> None:
    expected = _json_text(doc)
    if expected is None:
        with pytest.raises(InvalidDocument, match="not JSON-serialisable"):
            encode_doc(doc, group=False)
        return
    text = encode_doc(doc, group=False)
    if _has_float(doc):  # orjson and json may spell a float differently (1e16, 1e+16), never its value
        assert json.loads(text) == json.loads(expected)
    else:
        assert text == expected
    if "\\u" not in expected and not any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        assert decode_doc(text) == json.loads(expected)


def _typed(value: object) -> object:
    """`value` with the type of every part beside it: 1 and 1.0, or a list and a tuple, compare unequal."""
    if isinstance(value, dict):
        return (dict, [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value), [_typed(v) for v in value])
    return (type(value), value)


@given(_DOCUMENTS)
def test_the_document_a_write_answers_with_is_what_a_read_of_its_text_decodes(doc: dict[str, Any]) -> None:
    """The record a user write returns holds encode_doc_as_read's document, not one decoded from the text
    stored: it must be the same values of the same types, integers beyond 64 bits and surrogates included."""
    assume(_json_text(doc) is not None)
    text, as_read = encode_doc_as_read(doc, group=False)
    assert text == encode_doc(doc, group=False)
    assert _typed(as_read) == _typed(decode_doc(text))


def test_a_document_json_writes_differently_is_answered_as_a_read_decodes_it() -> None:
    class Text(str):
        __slots__ = ()

    doc = {"x": Text("a"), "y": {1: "b"}, "z": ("null",), "big": 2**64}
    text, as_read = encode_doc_as_read(doc, group=False)
    assert _typed(as_read) == _typed({"x": "a", "y": {"1": "b"}, "z": ["null"], "big": 2**64})
    assert _typed(as_read) == _typed(decode_doc(text))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_refused_as_json_refuses_them(bad: float) -> None:
    with pytest.raises(InvalidDocument, match="Out of range float values are not JSON compliant"):
        encode_doc({"userName": "a", "x": [1, {"y": bad}]}, group=False)


def test_values_json_cannot_write_are_refused_with_its_reason() -> None:
    class Text(str):
        __slots__ = ()

    with pytest.raises(InvalidDocument, match="Object of type bytes is not JSON serializable"):
        encode_doc({"x": b"raw"}, group=False)
    # A subclass of str, and keys that are not text, are written as json writes them.
    assert encode_doc({"x": Text("a")}, group=False) == '{"x":"a"}'
    assert encode_doc({"x": {1: "a", None: 2}}, group=False) == '{"x":{"1":"a","null":2}}'


@pytest.mark.parametrize(
    ("key", "group"), [("Password", False), ("id", False), ("members", True), ("META", True)]
)
def test_keys_the_store_must_not_hold_are_refused_in_any_case(key: str, group: bool) -> None:
    with pytest.raises(InvalidDocument, match=f"must not contain {key}"):
        encode_doc({"displayName": "d", key: "x"}, group=group)


@given(st.lists(st.one_of(st.text(), st.integers(-(2**63), 2**63 - 1)), max_size=5))
def test_json_each_reads_from_json_array_what_it_read_from_json_dumps(values: list[object]) -> None:
    conn = sqlite3.connect(":memory:")
    try:
        read = "SELECT value FROM json_each(?)"
        assert (
            conn.execute(read, (json_array(values),)).fetchall()
            == conn.execute(read, (json.dumps(values),)).fetchall()
        )
    finally:
        conn.close()
