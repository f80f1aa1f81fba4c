"""A read without projection renders a user in one pass: the same body as render(user_document(...))."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bridge.provisioning.translate import plain_user_document, user_document, user_view
from bridge.scim import USER_SCHEMA, render
from bridge.store import UserGroup, UserRecord
from bridge.store.codec import format_ts

ENTERPRISE = USER_SCHEMA.extensions[0].id
_CORE_NAMES = [attr.name for urn, attr in USER_SCHEMA.all_attributes() if urn is None]
_EXTENSION_NAMES = [attr.name for urn, attr in USER_SCHEMA.all_attributes() if urn == ENTERPRISE]

_leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
_values = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
# Documents with the schema's names (returned ones, `password`, `groups`, `active`, `id`, `meta`...), names
# it does not know, the extension as an object (or not) with its own names: every value possibly empty.
_extension = st.dictionaries(st.sampled_from([*_EXTENSION_NAMES, "other"]), _values, max_size=4)
_docs = st.dictionaries(
    st.sampled_from([*_CORE_NAMES, "schemas", "unknown", ENTERPRISE]), _values, max_size=10
).flatmap(lambda doc: st.just(doc) | _extension.map(lambda e: {**doc, ENTERPRISE: e}))
_groups = st.lists(st.tuples(st.text(min_size=1, max_size=4), st.text(max_size=4)), max_size=3).map(
    lambda pairs: tuple(UserGroup(scim_id, name) for scim_id, name in pairs)
)
_moments = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)).map(  # noqa: DTZ001
    lambda wall: wall.replace(microsecond=wall.microsecond // 1000 * 1000, tzinfo=UTC)
)


@given(_docs, st.booleans(), _groups, _moments, st.sampled_from([0, 1, 5_000]), st.integers(1, 10**6))
def test_the_plain_document_is_the_rendered_one_key_for_key_in_order(
    doc: dict[str, Any],
    active: bool,
    groups: tuple[UserGroup, ...],
    created: datetime,
    later: int,
    version: int,
) -> None:
    record = UserRecord(
        "u-1",
        7,
        "ada",
        None,
        None,
        active,
        doc,
        version,
        format_ts(created),
        format_ts(created + timedelta(seconds=later)),
        None,
        groups,
    )
    base = "https://idp.example/scim/v2"
    expected = render(
        user_document(record, f"{base}/Groups"), USER_SCHEMA, location=f"{base}/Users/u-1", copy=False
    )
    plain = plain_user_document(user_view(record), f"{base}/Groups", f"{base}/Users/u-1")
    # The encoded bodies: the same keys in the same order, at every depth.
    assert json.dumps(plain) == json.dumps(expected)
