"""The operator docs keep up with the code: every log event, every metric, every relative link."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bridge.metrics import MetricsRecorder

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"
_LOG_METHODS = frozenset({"debug", "info", "warning", "error", "exception", "critical"})


def emitted_events() -> set[str]:
    """Event names of every structlog call with a literal event in bridge/ (AST, so no false matches)."""
    events: set[str] = set()
    for path in (ROOT / "bridge").rglob("*.py"):
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
                events.add(node.args[0].value)
    return events


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


def test_every_metric_is_documented(tmp_path: Path) -> None:
    families = {
        f.name
        for f in text_string_to_metric_families(MetricsRecorder(str(tmp_path / "x.db")).render().decode())
    }
    documented = {name.removesuffix("_total") for name in _table_first_cells(OPERATIONS.read_text())}
    assert families, "the recorder registers metrics"
    missing = {name for name in families if name not in documented}
    assert not missing, f"metrics missing from docs/operations.md: {sorted(missing)}"


def test_relative_links_resolve() -> None:
    for doc in [
        OPERATIONS,
        ROOT / "docs" / "architecture.md",
        ROOT / "docs" / "configuration.md",
        ROOT / "deploy" / "README.md",
    ]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" in target:
                continue
            assert (doc.parent / target).exists(), f"{doc.name}: broken link {target}"


def test_architecture_has_a_diagram() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert text.count("```") >= 2
    assert "Determined" in text
    assert "scim-bridge" in text
