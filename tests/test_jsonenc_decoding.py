"""jsonenc.loads_if_exact: orjson's reading where it equals the standard library's, UNSURE elsewhere."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge import jsonenc

documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(value=documents, ascii_only=st.booleans())
def test_a_sure_reading_is_the_standard_librarys(value: object, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    read = jsonenc.loads_if_exact(text.encode("utf-8", "surrogatepass"))
    expected = json.loads(text)
    if read is not jsonenc.UNSURE:
        assert read == expected
        assert json.dumps(read) == json.dumps(expected)  # same types too (an int stays an int)


@pytest.mark.parametrize(
    "text",
    [
        '{"n": 123456789012345678901234567890}',  # orjson would read a float
        '{"n": -18446744073709551617}',
        '{"s": "1234567890123456789"}',  # a long run even in a string: the standard library decides
        '{"n": NaN}',
        '{"n": 1e400}',
        '{"s": "\\ud800"}',  # a lone surrogate escape
        '\ufeff{"a": 1}',
        '{"a": 1,}',
    ],
)
def test_what_orjson_cannot_vouch_for_is_unsure(text: str) -> None:
    assert jsonenc.loads_if_exact(text.encode("utf-8")) is jsonenc.UNSURE


def test_an_ordinary_idp_body_is_read_by_orjson() -> None:
    body = b'{"userName": "ada@example.com", "active": true, "emails": [{"value": "a@b.c", "primary": true}]}'
    assert jsonenc.loads_if_exact(body) == json.loads(body)
