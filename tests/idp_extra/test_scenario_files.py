"""Our own IdP replay scripts follow the shared scenario format, so tests/idp's runner can replay them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

SCENARIOS = Path(__file__).parent / "scenarios"
FILES = sorted(SCENARIOS.glob("*.json"))
TOP_KEYS = {
    "idp",
    "variant",
    "auth_modes",
    "base_url_convention",
    "notes",
    "placeholders",
    "sources",
    "steps",
}
STEP_KEYS = {"name", "method", "path", "headers", "body", "expect", "source", "confidence"}
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# Filled by the runner from its own test data rather than from a capture.
GIVEN = {
    "auth",
    "user_name",
    "user_name_pct",
    "user2_name",
    "user2_name_pct",
    "group_name",
    "group_name_pct",
    "random_guid",
}


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def test_the_five_idp_variants_are_there() -> None:
    assert [p.name for p in FILES] == [
        "entra-aadoptscim062020.json",
        "google-workspace.json",
        "jumpcloud.json",
        "okta-aiw.json",
        "onelogin.json",
    ]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario_shape(path: Path) -> None:
    scenario = load(path)
    assert scenario.keys() >= TOP_KEYS
    names = [step["name"] for step in scenario["steps"]]
    assert len(names) == len(set(names))
    captured: set[str] = set()
    for step in scenario["steps"]:
        assert step.keys() >= STEP_KEYS, step["name"]
        assert step["method"] in {"GET", "POST", "PUT", "PATCH", "DELETE"}
        assert step["path"].startswith("/")
        assert step["confidence"] in {"documented", "observed", "inferred"}
        assert step["expect"]["status"]
        assert all(100 <= s < 600 for s in step["expect"]["status"])
        assert step["headers"]["Authorization"] == "{{auth}}"
        assert ("Content-Type" in step["headers"]) == (step["body"] is not None), step["name"]
        used = set(PLACEHOLDER.findall(json.dumps([step["path"], step["headers"], step["body"]])))
        missing = used - GIVEN - captured
        assert not missing, f"{step['name']} uses {missing} before any step captured them"
        for placeholder, json_path in step.get("capture", {}).items():
            assert json_path in ("id", "Resources[0].id")
            if not step.get("optional"):
                captured.add(placeholder)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_expected_state_names_only_known_users(path: Path) -> None:
    scenario = load(path)
    state = scenario["expected_state"]
    bodies = json.dumps([step["body"] for step in scenario["steps"]])
    for user in state["users"]:
        assert user["userName"] in bodies
        assert isinstance(user["active"], bool)
    for group in state["groups"]:
        assert set(group["members"]) <= {u["userName"] for u in state["users"]}
