"""New SCIM ids: version-4 UUIDs in their canonical text, all distinct across batches."""

from __future__ import annotations

import uuid
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from bridge.provisioning.ids import BATCH, ScimIds


def test_ids_are_distinct_canonical_version_4_uuids_across_batches() -> None:
    source = ScimIds()
    made = [source.new() for _ in range(2 * BATCH + 3)]
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text


@given(st.binary(min_size=16, max_size=16), st.integers(0, BATCH - 1))
def test_an_id_is_the_uuid_module_s_text_for_its_sixteen_random_bytes(raw: bytes, position: int) -> None:
    pool = bytes(16 * position) + raw + bytes(16 * (BATCH - position - 1))
    with mock.patch("bridge.provisioning.ids.os.urandom", return_value=pool):
        source = ScimIds()
        made = [source.new() for _ in range(position + 1)]
    assert made[position] == str(uuid.UUID(bytes=raw, version=4))
