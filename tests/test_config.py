"""Configuration: every error class with its message, env substitution, secret files, the seed example."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bridge.config import ConfigError, Secret, hash_token, load_settings, parse_settings
from bridge.web.proxies import TrustedProxies

MINIMAL_MASTER = {"url": "http://127.0.0.1:8081", "token": "t" * 20}
SEED_SCIM = {"enabled": True, "auth": {"type": "basic", "username": "determined", "password": "password"}}


def problems_of(raw: object, environ: dict[str, str] | None = None, base: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(raw, environ or {}, base)
    return list(info.value.problems)


def test_seed_okta_block_works_unchanged() -> None:
    settings = parse_settings({"scim": SEED_SCIM, "master": MINIMAL_MASTER}, {})
    (cred,) = settings.scim.auth.basic
    assert (cred.username, cred.password.reveal()) == ("determined", "password")
    assert settings.server.base_path == "/scim/v2"
    assert settings.database.path == "./scim-bridge.db"


def test_shipped_config_file_is_valid() -> None:
    settings = load_settings(Path(__file__).parent.parent / "scim-bridge.yaml", {})
    assert settings.scim.auth.basic[0].username == "determined"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"scim": SEED_SCIM}, "master.url: required"),
        (
            {"scim": SEED_SCIM, "master": {**MINIMAL_MASTER, "url": "ftp://x"}},
            "master.url: must be an http(s) URL",
        ),
        ({"scim": SEED_SCIM, "master": MINIMAL_MASTER, "bogus": 1}, "bogus: unknown key"),
        ({"scim": SEED_SCIM, "master": {**MINIMAL_MASTER, "colour": "red"}}, "master.colour: unknown key"),
        (
            {"scim": SEED_SCIM, "master": MINIMAL_MASTER, "server": {"port": "eighty"}},
            "server.port: must be an integer",
        ),
        (
            {"scim": SEED_SCIM, "master": MINIMAL_MASTER, "server": {"port": 70000}},
            "server.port: must be between 0 and 65535",
        ),
        (
            {"scim": SEED_SCIM, "master": MINIMAL_MASTER, "logging": {"format": "xml"}},
            "logging.format: must be one of: json, console",
        ),
        ({"scim": SEED_SCIM, "master": MINIMAL_MASTER, "master_": 1}, "master_: unknown key"),
        (
            {"scim": {"auth": {"type": "basic", "username": "u"}}, "master": MINIMAL_MASTER},
            "scim.auth.password: required",
        ),
        (
            {"scim": {"auth": {"type": "magic"}}, "master": MINIMAL_MASTER},
            "scim.auth.type: must be one of: basic, bearer, oauth",
        ),
        (
            {"scim": {"auth": {"type": "bearer", "tokens": []}}, "master": MINIMAL_MASTER},
            "scim.auth.tokens: required: a non-empty list",
        ),
        (
            {
                "scim": {"auth": {"type": "bearer", "tokens": [{"name": "x", "token": "short"}]}},
                "master": MINIMAL_MASTER,
            },
            "scim.auth.tokens[0].token: must be at least 16 characters",
        ),
        (
            {"scim": {"enabled": True}, "master": MINIMAL_MASTER},
            "scim.auth: required: at least one credential",
        ),
        (
            {"scim": SEED_SCIM, "master": {"url": "http://m"}},
            "master.token: required (or master.username and master.password)",
        ),
        (
            {"scim": SEED_SCIM, "master": {"url": "http://m", "username": "svc"}},
            "master.password: required with master.username",
        ),
        (
            {"scim": SEED_SCIM, "master": {**MINIMAL_MASTER, "verify_tls": "maybe"}},
            "master.verify_tls: must be a boolean",
        ),
        (
            {"scim": SEED_SCIM, "master": MINIMAL_MASTER, "server": {"tls_cert": "/c.pem"}},
            "server.tls_key: tls_cert and tls_key go together",
        ),
        ([1, 2], "<root>: must be a mapping"),
        (
            {
                "scim": SEED_SCIM,
                "master": MINIMAL_MASTER,
                "server": {"trusted_proxies": ["10.0.0.0/8", "nope"]},
            },
            "server.trusted_proxies[1]: must be an IP address or CIDR network",
        ),
        (
            {
                "scim": {
                    "auth": {
                        "type": "oauth",
                        "token_ttl": 0,
                        "clients": [{"client_id": "a", "client_secret": "b"}],
                    }
                },
                "master": MINIMAL_MASTER,
            },
            "scim.auth.token_ttl: must be at least 1 second",
        ),
    ],
)
def test_each_error_class_names_key_and_problem(raw: object, expected: str) -> None:
    assert expected in problems_of(raw)


def test_all_problems_are_reported_at_once() -> None:
    problems = problems_of({"master": {"url": "nope"}, "extra": True})
    assert "master.url: must be an http(s) URL" in problems
    assert "extra: unknown key" in problems


def test_env_substitution_and_missing_variable() -> None:
    raw = {"scim": SEED_SCIM, "master": {"url": "http://m", "token": "${DET_TOKEN}"}}
    settings = parse_settings(raw, {"DET_TOKEN": "from-env-token-value"})
    assert settings.master.token is not None
    assert settings.master.token.reveal() == "from-env-token-value"
    assert "master.token: environment variable DET_TOKEN is not set" in problems_of(raw, {})


def test_secret_files_and_unreadable_secret_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret-from-file\n")
    raw = {
        "scim": {"auth": {"type": "basic", "username": "okta", "password_file": "pw"}},
        "master": {"url": "http://m", "token_file": str(tmp_path / "pw")},
    }
    settings = parse_settings(raw, {}, tmp_path)
    assert settings.scim.auth.basic[0].password.reveal() == "s3cret-from-file"
    raw["master"] = {"url": "http://m", "token_file": str(tmp_path / "missing")}
    (problem,) = problems_of(raw, {}, tmp_path)
    assert problem.startswith("master.token_file: cannot read secret file")


def test_env_override_with_double_underscore() -> None:
    settings = parse_settings(
        {"scim": SEED_SCIM, "master": MINIMAL_MASTER},
        {"SCIM_BRIDGE_SERVER__PORT": "9999", "SCIM_BRIDGE_LOGGING__FORMAT": "console"},
    )
    assert settings.server.port == 9999
    assert settings.logging.format == "console"


def test_bearer_tokens_are_kept_hashed_and_several_credentials_rotate() -> None:
    raw = {
        "scim": {
            "auth": [
                {"type": "basic", "username": "okta", "password": "p1"},
                {"type": "basic", "username": "okta", "password": "p2"},
                {
                    "type": "bearer",
                    "tokens": [
                        {"name": "entra", "token": "x" * 32},
                        {"name": "next", "token_sha256": "a" * 64},
                    ],
                },
                {
                    "type": "oauth",
                    "clients": [{"client_id": "okta-oauth", "client_secret": "cs"}],
                    "token_ttl": 600,
                },
            ]
        },
        "master": MINIMAL_MASTER,
    }
    auth = parse_settings(raw, {}).scim.auth
    assert [c.password.reveal() for c in auth.basic] == ["p1", "p2"]
    assert [b.token_sha256 for b in auth.bearer] == [hash_token("x" * 32), "a" * 64]
    assert auth.oauth_clients[0].client_id == "okta-oauth"
    assert auth.oauth_token_ttl == 600


def test_secret_repr_never_shows_value() -> None:
    settings = parse_settings(
        {"scim": SEED_SCIM, "master": {**MINIMAL_MASTER, "token": "super-secret-token"}}, {}
    )
    assert "super-secret-token" not in repr(settings)
    assert "password" not in repr(Secret("password").__repr__())


def test_cli_config_error_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("scim: {auth: {type: basic, username: a, password: b}}\nmaster: {token: abc}\n")
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "check", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "config error: master.url: required"
    assert "Traceback" not in result.stderr


def test_cli_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("scim: [unclosed\n")
    for path in (config, tmp_path / "absent.yaml"):
        result = subprocess.run(
            [sys.executable, "-m", "bridge", "serve", "-c", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert result.stderr.startswith("config error: ")
        assert "Traceback" not in result.stderr


def test_ca_file_is_a_path_not_a_secret_reference(tmp_path: Path) -> None:
    settings = parse_settings(
        {"scim": SEED_SCIM, "master": {**MINIMAL_MASTER, "ca_file": "/etc/ssl/ca.pem"}}, {}
    )
    assert settings.master.ca_file == "/etc/ssl/ca.pem"


def test_credential_lists_report_each_bad_item_at_its_own_path_in_order() -> None:
    auth = [
        {"type": "bearer", "tokens": ["not-a-mapping", {"name": "a", "token": "short"}, {"token": "x" * 16}]},
        {"type": "oauth", "clients": [7, {"client_id": "c", "extra": 1}]},
        {"type": "oauth"},
    ]
    problems = problems_of({"scim": {"auth": auth}, "master": MINIMAL_MASTER})
    assert problems == [
        "scim.auth[0].tokens[0]: must be a mapping",
        "scim.auth[0].tokens[1].token: must be at least 16 characters",
        "scim.auth[0].tokens[2].name: required",
        "scim.auth[1].clients[0]: must be a mapping",
        "scim.auth[1].clients[1].extra: unknown key",
        "scim.auth[1].clients[1].client_secret: required",
        "scim.auth[2].clients: required: a non-empty list",
    ]


BASE = {"scim": SEED_SCIM, "master": MINIMAL_MASTER}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({**BASE, "server": {"base_path": "scim"}}, ["server.base_path: must start with /"]),
        ({**BASE, "server": {"public_url": "ftp://x"}}, ["server.public_url: must be an http(s) URL"]),
        (
            {"scim": {**SEED_SCIM, "max_results": 0}, "master": MINIMAL_MASTER},
            ["scim.max_results: must be at least 1"],
        ),
        ({**BASE, "server": {"port": True}}, ["server.port: must be an integer"]),  # YAML `yes` is no port
        ({**BASE, "server": {"trusted_proxies": 5}}, ["server.trusted_proxies: must be a list"]),
        (
            {
                "scim": {"auth": {"type": "bearer", "tokens": [{"name": "x", "token_sha256": "xyz"}]}},
                "master": MINIMAL_MASTER,
            },
            ["scim.auth.tokens[0].token_sha256: must be 64 hex digits"],
        ),
        (
            {
                "scim": {"auth": {"type": "basic", "username": {"a": 1}, "password": "p" * 16}},
                "master": MINIMAL_MASTER,
            },
            ["scim.auth.username: must be a string"],
        ),
        (
            {"scim": SEED_SCIM, "master": {"url": "http://m", "username": "svc", "password_file": ""}},
            ["master.password_file: must be a file path"],
        ),
        ({**BASE, "database": {1: "x"}}, ["database.1: keys must be strings"]),
        (
            {**BASE, "database": {"busy_timeout": -1}},
            ["database.busy_timeout: must be between 0 and 600 seconds"],
        ),
        (
            {"scim": "x", "master": MINIMAL_MASTER},
            ["scim: must be a mapping", "scim.auth: required: at least one credential"],
        ),
        (
            None,  # an empty file
            [
                "master.url: required",
                "master.token: required (or master.username and master.password)",
                "scim.auth: required: at least one credential",
            ],
        ),
    ],
)
def test_more_problems_are_named_at_their_key(raw: object, expected: list[str]) -> None:
    assert problems_of(raw) == expected


def test_an_empty_section_takes_its_defaults() -> None:
    """`database:` with nothing under it (YAML null) is the defaults, as if the section were left out."""
    assert parse_settings({**BASE, "database": None}, {}) == parse_settings(BASE, {})


def test_retention_defaults_environment_and_keep_forever() -> None:
    database = parse_settings(BASE, {}).database
    assert (database.intent_retention_days, database.audit_retention_days) == (7.0, 90.0)
    environ = {
        "SCIM_BRIDGE_DATABASE__INTENT_RETENTION_DAYS": "0",
        "SCIM_BRIDGE_DATABASE__AUDIT_RETENTION_DAYS": "365",
    }
    database = parse_settings(BASE, environ).database
    assert (database.intent_retention_days, database.audit_retention_days) == (0.0, 365.0)


@pytest.mark.parametrize(
    ("database", "reconcile", "expected"),
    [
        (
            {"intent_retention_days": 0.5, "audit_retention_days": -1},
            {},
            [
                "database.intent_retention_days: must be 0 (keep forever) or between 1 and 36500 days",
                "database.audit_retention_days: must be 0 (keep forever) or between 1 and 36500 days",
            ],
        ),
        (
            {"audit_retention_days": 36501, "intent_retention_days": "a week"},
            {},
            [
                "database.intent_retention_days: must be a number",
                "database.audit_retention_days: must be 0 (keep forever) or between 1 and 36500 days",
            ],
        ),
        # A finished intent must outlive the grace after which a resolver may still be finishing it.
        (
            {"intent_retention_days": 1},
            {"intent_grace": 86400},
            ["database.intent_retention_days: must be longer than reconcile.intent_grace"],
        ),
    ],
)
def test_retention_bounds(
    database: dict[str, object], reconcile: dict[str, object], expected: list[str]
) -> None:
    assert problems_of({**BASE, "database": database, "reconcile": reconcile}) == expected


@pytest.mark.parametrize(
    "database", [{"intent_retention_days": 0}, {"intent_retention_days": 2, "audit_retention_days": 0}]
)
def test_retention_past_a_long_grace_or_forever_is_valid(database: dict[str, object]) -> None:
    parse_settings({**BASE, "database": database, "reconcile": {"intent_grace": 86400}}, {})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://a..b/", "master.url: host name 'a..b' has an empty label"),
        ("https://.master.example", "master.url: host name '.master.example' has an empty label"),
        (
            "http://" + "a" * 64 + ".example:8080",
            "master.url: host name label aaaaaaaaaaaaaaaa... is longer than 63",
        ),
        ("http://" + ("a" * 60 + ".") * 5 + "example", "master.url: host name is longer than 253 characters"),
        ("http://x\u200b.example", "master.url: host name cannot be encoded"),
    ],
)
def test_master_url_host_the_resolver_cannot_take_is_refused(url: str, expected: str) -> None:
    (problem,) = problems_of({"scim": SEED_SCIM, "master": {**MINIMAL_MASTER, "url": url}})
    assert problem.startswith(expected)


@pytest.mark.parametrize(
    "url",
    [
        "http://master.example:8080/api",
        "https://" + ("a" * 63 + ".") * 3 + "b" * 61,  # 253 characters, labels of 63
        "http://determined-master.default.svc.cluster.local.",
        "http://10.0.0.1:8080",
        "http://[::1]:8080",
        "http://[2001:db8::5]",
        "http://localhost:8080",
        "https://bücher.example",
        "http://user:pw@master:8080",
    ],
)
def test_master_url_hosts_the_resolver_takes_pass(url: str) -> None:
    settings = parse_settings({"scim": SEED_SCIM, "master": {**MINIMAL_MASTER, "url": url}}, {})
    assert settings.master.url == url


def test_cli_check_refuses_a_master_url_with_an_empty_label(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "scim: {auth: {type: basic, username: a, password: b}}\nmaster: {url: 'http://a..b/', token: abc}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "check", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "config error: master.url: host name 'a..b' has an empty label"


@pytest.mark.parametrize(
    "entry",
    ["10.0.0.0/8", "10.0.0.1/8", "::ffff:10.0.0.0/104", "2001:db8::/32", "::/0", "nope", "10.0.0.0/33", ""],
)
def test_trusted_proxies_are_validated_by_the_parse_the_app_makes(entry: str) -> None:
    """Config validation and TrustedProxies share one parse: what loads is what the app can build."""
    raw = {**BASE, "server": {"trusted_proxies": [entry]}}
    try:
        TrustedProxies.from_entries([entry])
    except ValueError:
        with pytest.raises(ConfigError, match=r"server\.trusted_proxies\[0\]: must be an IP address or CIDR"):
            parse_settings(raw, {})
    else:
        proxies = parse_settings(raw, {}).server.trusted_proxies
        assert TrustedProxies.from_entries(proxies) == TrustedProxies.from_entries([entry])
