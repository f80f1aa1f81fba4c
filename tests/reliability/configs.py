"""Config files for CLI tests: the smallest valid scim-bridge.yaml around a database path and a master URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def write_config(
    directory: Path, database: Path, master_url: str = "http://127.0.0.1:9", **extra: Any
) -> Path:
    """Write a config file with basic IdP auth and the emulator's admin account; return its path."""
    raw: dict[str, Any] = {
        "scim": {"auth": {"type": "basic", "username": "idp", "password": "idp-password"}},
        "master": {"url": master_url, "username": "admin", "password": ""},
        "database": {"path": str(database)},
        "logging": {"format": "json", "level": "warning"},
    }
    raw.update(extra)
    path = directory / "scim-bridge.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path
