"""The operator docs keep up with the code: every log event (and its level), every metric, every command and
flag, every relative link and anchor."""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bridge.__main__ import _parser
from bridge.config import parse_settings
from bridge.metrics import MetricsRecorder
from bridge.web.app import create_app
from bridge.web.routes import not_implemented

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"
_LOG_METHODS = frozenset({"debug", "info", "warning", "error", "exception", "critical"})


def log_calls() -> Iterator[tuple[str, str, bool, str]]:
    """(event, level, with traceback, where) of every structlog call with a literal event in bridge/ (AST, so
    no false matches); ``exception`` is the error level with a traceback, as is ``exc_info=``."""
    for path in sorted((ROOT / "bridge").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _LOG_METHODS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", node.args[0].value)
            ):
                method = node.func.attr
                traceback = method == "exception" or any(k.arg == "exc_info" for k in node.keywords)
                level = "error" if method == "exception" else method
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                yield node.args[0].value, level, traceback, where


def emitted_events() -> set[str]:
    """Event names of every structlog call with a literal event in bridge/."""
    return {event for event, _, _, _ in log_calls()}


def documented_events() -> dict[str, str]:
    """Each event of the log event reference's tables (``| event | level | ...``) with its level cell."""
    levels: dict[str, str] = {}
    in_events = False
    for line in OPERATIONS.read_text().splitlines():
        if line.startswith("| event | level |"):
            in_events = True
        elif not line.startswith("|"):
            in_events = False
        elif in_events and (match := re.match(r"^\| (.+?) \| (.+?) \|", line)):
            for event in re.findall(r"`([^`]+)`", match.group(1)):
                levels[event] = match.group(2)
    return levels


def _table_first_cells(text: str) -> set[str]:
    cells: set[str] = set()
    for line in text.splitlines():
        match = re.match(r"^\| (.+?) \|", line)
        if match:
            cells.update(re.findall(r"`([^`]+)`", match.group(1)))
    return cells


def test_every_log_event_is_documented() -> None:
    events = emitted_events()
    assert {"request", "auth.rejected", "master.call", "tls.reloaded"} <= events
    missing = events - _table_first_cells(OPERATIONS.read_text())
    assert not missing, f"log events missing from docs/operations.md: {sorted(missing)}"


def test_every_documented_event_is_emitted() -> None:
    """A renamed or removed event must leave the reference too."""
    stale = set(documented_events()) - emitted_events()
    assert not stale, f"docs/operations.md documents events the code no longer emits: {sorted(stale)}"


def test_event_levels_match_the_docs() -> None:
    """The level column is the level the code logs at, and says "with traceback" exactly when it carries one."""
    documented = documented_events()
    wrong = []
    for event, level, traceback, where in log_calls():
        cell = documented.get(event, "")
        if cell.split(" ")[0] != level or ("with traceback" in cell) != traceback:
            expected = level + (" (with traceback)" if traceback else "")
            wrong.append(f"{event}: documented {cell!r}, {where} logs {expected!r}")
    assert not wrong, "\n".join(wrong)


def test_event_tables_are_read_with_their_levels() -> None:
    """Negative control: the table parser reads the level cell the check compares."""
    documented = documented_events()
    assert documented["store.corrupt"] == "error"
    assert documented["store.failed"] == "error (with traceback)"
    assert documented["stopped"] == "info"
    assert "request_id" not in documented  # the common-fields table is not an event table


def test_every_metric_is_documented(tmp_path: Path) -> None:
    families = {
        f.name
        for f in text_string_to_metric_families(MetricsRecorder(str(tmp_path / "x.db")).render().decode())
    }
    documented = {name.removesuffix("_total") for name in _table_first_cells(OPERATIONS.read_text())}
    assert families, "the recorder registers metrics"
    missing = {name for name in families if name not in documented}
    assert not missing, f"metrics missing from docs/operations.md: {sorted(missing)}"


# Every page an operator or IdP admin reads.
OPERATOR_DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "deploy").rglob("*.md")),
]


def anchors(doc: Path) -> set[str]:
    """The fragment ids GitHub gives the headings of `doc` (lowercase, punctuation dropped, spaces to
    hyphens, ``-1``, ``-2`` for repeats); headings inside code fences are not headings."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in doc.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"^#{1,6} (.+)$", line)):
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            repeat = seen.get(slug, 0)
            seen[slug] = repeat + 1
            found.add(slug if repeat == 0 else f"{slug}-{repeat}")
    return found


def broken_links(doc: Path) -> list[str]:
    """Relative links of `doc` whose file is missing, or whose ``#fragment`` names no heading there."""
    broken = []
    for target, fragment in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", doc.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        path = doc.parent / target if target else doc
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif fragment and path.suffix == ".md" and fragment not in anchors(path):
            broken.append(f"{target}#{fragment}: no such heading")
    return broken


@pytest.mark.parametrize("doc", OPERATOR_DOCS, ids=lambda d: str(d.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    assert not broken_links(doc), f"{doc.relative_to(ROOT)}: broken links {broken_links(doc)}"


def test_the_link_check_sees_broken_links(tmp_path: Path) -> None:
    """Negative control: a missing file and a missing heading are caught, a real one is not."""
    (tmp_path / "other.md").write_text("# Stale mappings (`user.missing`)\n## Shadow mode\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[ok](other.md#stale-mappings-usermissing) [ok](#top) [bad](other.md#stale-mappings) "
        "[gone](missing.md) [web](https://example.com/x.md)\n# Top\n"
    )
    assert broken_links(doc) == ["other.md#stale-mappings: no such heading", "missing.md: no such file"]


def _commands(parser: argparse.ArgumentParser, prefix: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command (``scim-bridge db prune``) with its parser, subcommands included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _commands(sub, f"{prefix} {name}")


def command_rows(text: str) -> list[str]:
    """The rows of the guide's command table (``| command | what it does |``), each whole."""
    rows: list[str] = []
    in_table = False
    for line in text.splitlines():
        if line.startswith("| command | what it does |"):
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        elif in_table and not line.startswith("|---"):
            rows.append(line)
    return rows


def _row_of(command: str, rows: list[str]) -> str | None:
    """The row whose first cell names `command` (``scim-bridge db prune`` or, beside it, ``db prune``), or None."""
    short = re.escape(command.removeprefix("scim-bridge "))
    named = re.compile(rf"`(?:scim-bridge )?{short}[` ]")
    return next((row for row in rows if named.search(row.split(" | ", 1)[0])), None)


def undocumented_commands_and_flags(text: str) -> list[str]:
    """Each command the CLI accepts without a row of its own in `text`'s command table, and each long flag not
    named in its command's row (``--config`` and the ``--log-*`` options: in the paragraph before the table)."""
    rows = command_rows(text)
    missing = []
    for command, parser in _commands(_parser(), "scim-bridge"):
        row = _row_of(command, rows)
        if row is None:
            missing.append(command)
            continue
        for action in parser._actions:
            flags = [
                s for s in action.option_strings if s.startswith("--") and s not in ("--help", "--config")
            ]
            missing += [f"{command} {flag}" for flag in flags if flag not in row]
    running = text.split("## Running", 1)[1].split("| command |", 1)[0]
    missing += [
        f"scim-bridge {flag}" for flag in ("--config", "--log-format", "--log-level") if flag not in running
    ]
    return missing


def test_every_command_and_flag_is_in_its_row_of_the_operations_guide() -> None:
    """Each command the CLI accepts has a row in docs/operations.md's command table naming each of its long
    flags: a flag named only in another command's row (``--dry-run``) does not count."""
    missing = undocumented_commands_and_flags(OPERATIONS.read_text())
    assert not missing, f"not in their rows of docs/operations.md: {missing}"


def test_the_command_check_reads_flags_in_their_own_row() -> None:
    """Negative control: a flag moved to another command's row, or a command's row gone, is caught."""
    text = OPERATIONS.read_text()
    row = _row_of("scim-bridge db prune", command_rows(text))
    assert row is not None
    assert undocumented_commands_and_flags(text.replace(row, row.replace("--dry-run", "--dry"))) == [
        "scim-bridge db prune --dry-run"
    ]
    assert "scim-bridge version" in undocumented_commands_and_flags(
        text.replace("`scim-bridge version`", "`v`")
    )


def test_architecture_has_a_diagram() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert text.count("```") >= 2
    assert "Determined" in text
    assert "scim-bridge" in text


# Served for clients that get the path slightly wrong (docs/conformance.md), not part of the API described; and
# the token endpoint's alias at the root (its operation under the base path says so: one path, one key).
_TOLERATED_ROUTES = frozenset(
    {
        "GET /scim/v2/serviceConfiguration",
        "GET /scim/v2/Users/",
        "POST /scim/v2/Users/",
        "GET /scim/v2/Groups/",
        "POST /scim/v2/Groups/",
        "POST /oauth/token",
    }
)
_METHODS = frozenset({"get", "post", "put", "patch", "delete"})


def _route_key(method: str, path: str) -> str:
    return f"{method.upper()} {re.sub(r'{[^}]+}', '{}', path)}"


def _openapi() -> dict[str, Any]:
    spec = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    assert isinstance(spec, dict)
    return spec


def documented_routes(spec: dict[str, Any]) -> set[str]:
    """Method and full path of each operation: its path under its own ``servers`` URL, else the spec's."""
    default = urlsplit(spec["servers"][0]["url"]).path
    routes = set()
    for path, item in spec["paths"].items():
        prefix = urlsplit(item["servers"][0]["url"]).path if "servers" in item else default
        routes |= {_route_key(method, prefix.rstrip("/") + path) for method in item if method in _METHODS}
    return routes


def test_openapi_describes_every_route() -> None:
    """docs/openapi.yaml names exactly the routes the app serves (the 501 ones and the tolerated aside): the
    SCIM routes under server.base_path and the probe and operator endpoints at the root."""
    settings = parse_settings(
        {
            "scim": {"auth": {"type": "oauth", "clients": [{"client_id": "idp", "client_secret": "s"}]}},
            "master": {"url": "http://master.example", "token": "t"},
        },
        environ={},
    )
    served = set()
    for route in create_app(settings).router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method != "HEAD" and route.handler is not not_implemented:
            served.add(_route_key(route.method, path))
    documented = documented_routes(_openapi())
    assert {
        "POST /scim/v2/oauth/token",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /status",
    } <= documented
    assert documented == served - _TOLERATED_ROUTES


def test_openapi_tags_are_declared_and_used() -> None:
    spec = _openapi()
    declared = {tag["name"] for tag in spec["tags"]}
    used = {
        tag
        for item in spec["paths"].values()
        for method, op in item.items()
        if method in _METHODS
        for tag in op["tags"]
    }
    assert used == declared


def _with_secret_files(value: object, secret: Path) -> object:
    """`value` with every ``*_file`` key pointing at `secret` (the examples name their deployment's paths)."""
    if isinstance(value, dict):
        return {
            key: str(secret) if str(key).endswith("_file") else _with_secret_files(item, secret)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_with_secret_files(item, secret) for item in value]
    return value


def _yaml_examples() -> list[object]:
    cases: list[object] = []
    for doc in OPERATOR_DOCS:
        for i, block in enumerate(re.findall(r"```ya?ml\n(.*?)```", doc.read_text(), re.S)):
            cases.append(pytest.param(block, id=f"{doc.relative_to(ROOT)}[{i}]"))
    return cases


@pytest.mark.parametrize("block", _yaml_examples())
def test_yaml_examples_load(block: str, tmp_path: Path) -> None:
    """Each configuration example in the docs is valid for the real parser (a fragment gets the rest)."""
    secret = tmp_path / "secret"
    secret.write_text("a-secret-of-twenty-chars\n")
    block = block.replace('"<64 hex digits>"', '"' + "0" * 64 + '"')
    raw = _with_secret_files(yaml.safe_load(block), secret)
    assert isinstance(raw, dict)
    raw.setdefault("scim", {"auth": {"type": "basic", "username": "u", "password": "p"}})
    master = raw.setdefault("master", {})
    master.setdefault("url", "http://master.example")
    if not {"token", "token_file", "username"} & set(master):
        master["token"] = "t"
    environ = {name: "an-env-secret-of-20-chars" for name in re.findall(r"\$\{(\w+)\}", block)}
    parse_settings(raw, environ=environ, base_dir=tmp_path)
