"""Settings for the ops tests, built through the real parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.config import Settings, parse_settings

BASIC_USER = "okta"
BASIC_PASSWORD = "okta-password-123"
METRICS_TOKEN = "metrics-token-0123456789"


def make_settings(tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    """Basic-auth settings with the database in tmp_path; keyword sections are merged over the defaults."""
    raw: dict[str, Any] = {
        "scim": {"auth": {"type": "basic", "username": BASIC_USER, "password": BASIC_PASSWORD}},
        "master": {"url": "http://127.0.0.1:9", "token": "v2.public.test-token"},
        "database": {"path": str(tmp_path / "bridge.db")},
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return parse_settings(raw, environ={}, base_dir=tmp_path)
