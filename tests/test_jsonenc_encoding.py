"""Encoding: a kept rendering (`Encoded`) is embedded as it is, by orjson and, for the values orjson refuses
(integers beyond 64 bits, lone surrogates), by the standard-library fallback too."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge import jsonenc
from bridge.jsonenc import Encoded

KEPT = b'{"id":"u1","userName":"ada@example.com"}'


def test_an_encoded_rendering_is_embedded_by_orjson() -> None:
    assert json.loads(jsonenc.dumps({"Resources": [Encoded(KEPT)], "n": 1})) == {
        "Resources": [json.loads(KEPT)],
        "n": 1,
    }


@pytest.mark.parametrize("refused", [2**70, "lone \ud800 surrogate"])
def test_an_encoded_rendering_is_embedded_by_the_fallback_too(refused: object) -> None:
    encoded = jsonenc.dumps({"Resources": [Encoded(KEPT)], "odd": refused})
    assert encoded == json.dumps({"Resources": [json.loads(KEPT)], "odd": refused}).encode()


@pytest.mark.parametrize("extra", [1, 2**70])
def test_an_unknown_object_is_refused_by_either_encoder(extra: int) -> None:
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        jsonenc.dumps({"odd": extra, "x": object()})


# JSON values with str keys only, as documents and log lines have them.
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_JSON)
def test_str_keyed_values_are_written_as_with_non_str_keys_allowed(value: object) -> None:
    """dumps tries orjson without OPT_NON_STR_KEYS first (cheaper): the same text whenever every key is a str."""
    try:
        expected = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:  # lone surrogates: the fallback's text, as before
        expected = json.dumps(value).encode()
    assert jsonenc.dumps(value) == expected


def test_non_str_keys_are_still_written() -> None:
    assert jsonenc.dumps({1: "a", "n": {None: [Encoded(KEPT)], 2.5: True}}) == (
        b'{"1":"a","n":{"null":[' + KEPT + b'],"2.5":true}}'
    )
