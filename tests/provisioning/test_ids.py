"""New SCIM ids: version-4 UUIDs in their canonical text, all distinct across batches."""

from __future__ import annotations

import uuid

from bridge.provisioning.ids import BATCH, ScimIds


def test_ids_are_distinct_canonical_version_4_uuids_across_batches() -> None:
    source = ScimIds()
    made = [source.new() for _ in range(2 * BATCH + 3)]
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text
