"""Every filter, POST, PUT and PATCH body from the shared IdP scenarios goes through the core without a 400.

The bodies are copied into tests/samples/idp-*-requests.json (placeholders replaced by `ph-<name>`).
"""

from __future__ import annotations

from typing import Any

import pytest

from bridge.scim.filters import SqlMapping, compile_sql, matches, parse_filter
from bridge.scim.patch import apply_patch, needs_members, parse_patch
from bridge.scim.resources import clean_input, render
from bridge.scim.schemas import GROUP_SCHEMA, USER_SCHEMA
from tests.scim.samples import load_sample

IDPS = ["authentik", "entra", "keycloak", "okta", "pingfederate"]
STEPS = [
    pytest.param(step, id=f"{idp}:{step['name']}")
    for idp in IDPS
    for step in load_sample(f"idp-{idp}-requests.json")["steps"]
    if any(200 <= code < 300 for code in step["expect"])
]
USER: dict[str, Any] = {
    "schemas": [],
    "id": "ph-user_id",
    "userName": "ph-user_name",
    "emails": [{"value": "e@x", "type": "work"}],
}
GROUP: dict[str, Any] = {"schemas": [], "id": "ph-group_id", "displayName": "ph-group_name"}


def test_every_idp_has_steps() -> None:
    assert {str(p.id).split(":")[0] for p in STEPS} == set(IDPS)


@pytest.mark.parametrize("step", STEPS)
def test_idp_request(step: dict[str, Any]) -> None:
    schema = USER_SCHEMA if step["resource"] == "Users" else GROUP_SCHEMA
    doc = USER if schema is USER_SCHEMA else GROUP
    if step["filter"] is not None:
        f = parse_filter(step["filter"])
        sql, params = compile_sql(f, schema, SqlMapping("t.doc"))
        assert params
        assert "ph-" not in sql
        matches(f, doc, schema)
    if step["method"] in ("POST", "PUT"):
        cleaned = clean_input(step["body"], schema)
        assert "id" not in cleaned
        assert "password" not in render(cleaned | {"id": "x"}, schema, location="l")
    if step["method"] == "PATCH":
        ops = parse_patch(step["body"])
        assert not needs_members(ops)  # no IdP in the scenarios needs the member list loaded
        result = apply_patch(doc, ops, schema)
        assert result.document["id"] == doc["id"]
        # idp-traffic §0.13: every IdP PATCH is idempotent — a replay changes nothing but member deltas,
        # which the service applies idempotently against the store
        again = apply_patch(result.document, ops, schema)
        assert again.changed <= {"members"}
        assert again.document == result.document


def test_okta_upper_cased_user_name_lookup_matches() -> None:
    f = parse_filter('userName eq "PH-USER_NAME"')
    assert matches(f, USER, USER_SCHEMA)
