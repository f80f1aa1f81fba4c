"""Encoding: a kept rendering (`Encoded`) is embedded as it is, by orjson and, for the values orjson refuses
(integers beyond 64 bits, lone surrogates), by the standard-library fallback too."""

from __future__ import annotations

import json

import pytest

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
