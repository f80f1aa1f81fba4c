"""docs/configuration.md documents every settings key with its type, default and environment variable.

The settings dataclasses are walked recursively; adding a field without a row here fails this test.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.config import Secret, Settings, parse_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
_SCALARS: dict[object, str] = {bool: "bool", int: "int", float: "number", str: "string", Secret: "secret"}


@dataclasses.dataclass(frozen=True)
class Key:
    """One settings key as the reference must show it."""

    path: str
    type_text: str
    default: object
    has_default: bool


def type_text(hint: object) -> str:
    """How the reference names a field's type."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return f"{type_text(inner)} or null"
    if origin is typing.Literal:
        return "one of: " + ", ".join(str(a) for a in args)
    if origin is tuple:
        if dataclasses.is_dataclass(args[0]):
            return "list"
        return f"list of {type_text(args[0])}s"
    return _SCALARS[hint]


def walk(cls: type, prefix: str = "") -> Iterator[Key]:
    """Every leaf key (and list-of-record key) of a settings dataclass, depth first."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        path = prefix + field.name
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            yield from walk(hint, path + ".")
            continue
        if field.default is not dataclasses.MISSING:
            default, has_default = field.default, True
        elif field.default_factory is not dataclasses.MISSING:
            default, has_default = field.default_factory(), True
        else:
            default, has_default = None, False
        args = typing.get_args(hint)
        if typing.get_origin(hint) is tuple and dataclasses.is_dataclass(args[0]):
            yield Key(path + "[]", type_text(hint), default, has_default)
            yield from walk(typing.cast(type, args[0]), path + "[].")
        else:
            yield Key(path, type_text(hint), default, has_default)


KEYS = list(walk(Settings))


def _rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"^\| `([^`]+)` \|(.*)\|\s*$", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def _rendered_default(value: object) -> str:
    if isinstance(value, tuple):
        value = list(value)
    return f"`{json.dumps(value)}`"


def test_walk_finds_the_keys() -> None:
    paths = {k.path for k in KEYS}
    assert {
        "master.url",
        "server.trusted_proxies",
        "scim.auth.bearer[].token_sha256",
        "metrics.token",
        "mode",
    } <= paths
    assert len(paths) == len(KEYS) > 50


@pytest.mark.parametrize("key", KEYS, ids=lambda k: k.path)
def test_key_is_documented(key: Key) -> None:
    rows = _rows()
    assert key.path in rows, f"{key.path} is missing from docs/configuration.md"
    cells = rows[key.path]
    assert cells[0] == key.type_text, f"{key.path}: documented type {cells[0]!r}, code says {key.type_text!r}"
    if key.path.startswith("scim.auth."):
        # The auth table maps settings fields to their YAML spelling; element fields have no default.
        if key.has_default and "[]." not in key.path:
            assert cells[1] == _rendered_default(key.default), key.path
        return
    assert cells[1] == _rendered_default(key.default), f"{key.path}: default {cells[1]} vs {key.default!r}"
    expected_env = (
        "none" if "." not in key.path else "`SCIM_BRIDGE_" + key.path.upper().replace(".", "__") + "`"
    )
    assert cells[2] == expected_env, key.path
    assert len(cells[3]) > 10, f"{key.path}: say what it means"


@dataclasses.dataclass(frozen=True)
class GrownMetrics:
    """A metrics section with one field more than the real one."""

    enabled: bool = True
    scrape_timeout: float = 5.0


@dataclasses.dataclass(frozen=True)
class GrownSettings:
    """Settings whose metrics section grew."""

    metrics: GrownMetrics = dataclasses.field(default_factory=GrownMetrics)


def test_an_undocumented_key_is_caught() -> None:
    """The walk sees a field added to a section, and the reference has no row for it."""
    grown = {k.path for k in walk(GrownSettings)}
    assert grown == {"metrics.enabled", "metrics.scrape_timeout"}
    assert grown - set(_rows()) == {"metrics.scrape_timeout"}


def test_no_stale_rows() -> None:
    """A removed or renamed key must leave the reference too."""
    assert set(_rows()) == {k.path for k in KEYS}


def _env_cases() -> list[object]:
    cases: list[object] = []
    for key in KEYS:
        if "." not in key.path or key.path.startswith("scim.auth."):
            continue
        cases.append(pytest.param(key, id=key.path))
    return cases


@pytest.mark.parametrize("key", _env_cases())
def test_documented_env_override_really_works(key: Key, tmp_path: Path) -> None:
    """Each documented variable reaches its key through the real parser (a value of the key's own type)."""
    samples = {
        "bool": "false",
        "int": "7",
        "number": "2.5",
        "string": "/x/y",
        "secret": "s3cret-value-123456",
    }
    base = key.type_text.removesuffix(" or null")
    if base.startswith("one of: "):
        value = base.removeprefix("one of: ").split(", ")[-1]
    elif base.startswith("list of"):
        value = "10.0.0.0/8" if key.path == "server.trusted_proxies" else "a,b"
    else:
        value = samples[base]
    if key.path == "master.url":
        value = "http://det.example:8080"
    if key.path == "server.public_url":
        value = "https://scim.example"
    if key.path == "reconcile.max_retire_fraction":
        value = "0.5"  # a share: config validation keeps it between 0 and 1
    if key.path in ("server.tls_cert", "server.tls_key"):
        # They go together (config validation); set both.
        env = {"SCIM_BRIDGE_SERVER__TLS_CERT": "/c.pem", "SCIM_BRIDGE_SERVER__TLS_KEY": "/k.pem"}
    else:
        env = {"SCIM_BRIDGE_" + key.path.upper().replace(".", "__"): value}
    raw = {
        "scim": {"auth": {"type": "basic", "username": "u", "password": "p"}},
        "master": {"url": "http://m", "token": "t"},
    }
    settings = parse_settings(raw, environ=env, base_dir=tmp_path)
    section, name = key.path.split(".")
    got = getattr(getattr(settings, section), name)
    got = got.reveal() if isinstance(got, Secret) else got
    if isinstance(got, tuple):
        assert list(got) == value.split(",")
    elif key.path in ("server.tls_cert", "server.tls_key"):
        assert got in ("/c.pem", "/k.pem")
    elif isinstance(got, bool):
        assert got is False
    elif isinstance(got, (int, float)):
        assert got == float(value)
    else:
        assert got == value
