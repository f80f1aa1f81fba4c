"""A small runner for shared/idp/scenarios/*.json (idp-traffic §13a): substitute, send in order, check, capture."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from conformance.shared_checkout import shared_dir
from tests.conftest import AppClient

_REPO = Path(__file__).resolve().parents[2]
# The IdPs' own captures live in the shared/ checkout; our scenarios for IdPs it lacks live in tests.
SCENARIO_DIRS = (shared_dir() / "idp" / "scenarios", _REPO / "tests" / "idp_extra" / "scenarios")
_PLACEHOLDER = re.compile(r"\{\{([a-z0-9_]+)\}\}")
_CAPTURE_STEP = re.compile(r"([A-Za-z_]+)(?:\[(\d+)\])?")


def scenario_names() -> list[str]:
    """Every scenario file's stem, sorted (the test ids)."""
    return sorted(p.stem for d in SCENARIO_DIRS for p in d.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    """One scenario file."""
    path = next(d / f"{name}.json" for d in SCENARIO_DIRS if (d / f"{name}.json").is_file())
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def base_values(auth: str, token: str) -> dict[str, str]:
    """Placeholder values known before the run; ids are captured from responses."""
    values = {
        "auth": auth,
        "token": token,
        "user_name": "ada.lovelace@example.com",
        "user2_name": "charles.babbage@example.com",
        "group_name": "Engineering",
        "random_guid": str(uuid.uuid4()),
        "authentik_version": "2025.10.0",
    }
    values["user_name_upper"] = values["user_name"].upper()
    for key in ("user_name", "user2_name", "group_name", "user_name_upper"):
        values[f"{key}_pct"] = quote(values[key], safe="")
    return values


def extract(body: Any, path: str) -> Any:
    """Follow a capture path such as `id` or `Resources[0].id`; None when it does not resolve."""
    current = body
    for part in path.split("."):
        match = _CAPTURE_STEP.fullmatch(part)
        if match is None or not isinstance(current, Mapping):
            return None
        current = current.get(match.group(1))
        if match.group(2) is not None:
            index = int(match.group(2))
            if not isinstance(current, list) or index >= len(current):
                return None
            current = current[index]
    return current


@dataclass(slots=True)
class StepResult:
    """What one step got back."""

    name: str
    status: int
    body: Any


@dataclass(slots=True)
class Replay:
    """Runs one scenario against a bridge client."""

    client: AppClient
    base_path: str
    values: dict[str, str]
    results: list[StepResult] = field(default_factory=list)

    def substitute(self, text: str) -> str:
        """Replace every `{{name}}`; unknown names get a stable fresh UUID (IdP-side ids such as kc_user_id)."""

        def one(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in self.values:
                self.values[key] = str(uuid.uuid4())
            return self.values[key]

        return _PLACEHOLDER.sub(one, text)

    async def run(self, scenario: Mapping[str, Any], after_step: Callable[[str], Awaitable[None]]) -> None:
        """Send every step (optional ones included), assert its status, store captures, then call `after_step`."""
        for step in scenario["steps"]:
            path = self.substitute(step["path"])
            headers = {k: self.substitute(v) for k, v in step.get("headers", {}).items()}
            headers.pop("Accept-Encoding", None)
            body = step.get("body")
            data = None if body is None else self.substitute(json.dumps(body)).encode()
            if data is not None and not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/scim+json"
            response = await self.client.request(
                step["method"], self.base_path + path, data=data, headers=headers
            )
            text = await response.text()
            parsed = json.loads(text) if text.strip() else None
            self.results.append(StepResult(step["name"], response.status, parsed))
            assert response.status in step["expect"]["status"], (step["name"], response.status, parsed)
            for placeholder, capture_path in (step.get("capture") or {}).items():
                value = extract(parsed, capture_path)
                if value is not None:
                    self.values[placeholder] = str(value)
            await after_step(step["name"])
