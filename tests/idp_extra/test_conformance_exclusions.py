"""Every check `make conformance` excludes is listed, with its reason, in docs/conformance.md, and vice versa."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITES = {"ms-postman", "scim2-tester", "scim-sanity", "okta-spec", "okta-legacy"}


def toml_rules() -> list[tuple[str, str, str, str]]:
    with (ROOT / "conformance" / "exclusions.toml").open("rb") as fh:
        data = tomllib.load(fh)
    rules = []
    for entry in data.get("exclude", []):
        assert set(entry) <= {"suite", "check", "detail", "auth", "reason"}
        assert entry["suite"] in SUITES
        assert entry.get("auth", "any") in {"any", "basic", "bearer"}
        assert len(entry["reason"].split()) >= 5, entry
        rules.append((entry["suite"], entry["check"], entry.get("detail", "*"), entry.get("auth", "any")))
    return rules


def documented_rules() -> list[tuple[str, str, str, str]]:
    text = (ROOT / "docs" / "conformance.md").read_text(encoding="utf-8")
    section = text.split("## Excluded checks", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) == 5 and cells[0] in {f"`{s}`" for s in SUITES}:
            check, detail = (re.fullmatch(r"`(.+)`", cell) for cell in cells[1:3])
            assert check is not None, line
            assert detail is not None, line
            rows.append((cells[0].strip("`"), check.group(1), detail.group(1), cells[3]))
    return rows


def test_exclusions_and_their_documentation_agree() -> None:
    assert sorted(toml_rules()) == sorted(documented_rules())


def test_exclusions_are_unique() -> None:
    rules = toml_rules()
    assert len(rules) == len(set(rules))
