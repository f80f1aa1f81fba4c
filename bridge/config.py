"""Typed settings loaded from scim-bridge.yaml: validation with key paths, env substitution, secret files.

The file accepts the master's own ``scim:`` block unchanged (``scim.enabled``, ``scim.auth.type: basic``)
and adds the bridge's sections. Every problem is reported as ``<key.path>: <problem>``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import os
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, get_args, get_origin

import yaml
from yarl import URL

from bridge.web.proxies import proxy_networks

CONFIG_ENV: Final = "SCIM_BRIDGE_CONFIG"
ENV_PREFIX: Final = "SCIM_BRIDGE_"
_T = TypeVar("_T")
# Keys whose value may instead come from a file named by ``<key>_file`` (Kubernetes/systemd secrets).
SECRET_KEYS: Final = frozenset({"password", "token", "client_secret", "signing_key"})
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """One or more configuration problems, each as ``key.path: problem``."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


class Secret:
    """A secret string whose repr never shows the value; use ``reveal()`` at the point of use."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret text."""
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class BasicCredential:
    """HTTP Basic credential an IdP may present (the master's ``scim.auth`` basic block)."""

    name: str
    username: str
    password: Secret


@dataclass(frozen=True, slots=True)
class BearerCredential:
    """A named static bearer token, held only as its SHA-256 hex digest."""

    name: str
    token_sha256: str


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """An OAuth2 client-credentials client allowed to mint access tokens at the token endpoint."""

    name: str
    client_id: str
    client_secret: Secret


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Every credential accepted at once; several of a kind allow rotation without downtime."""

    basic: tuple[BasicCredential, ...] = ()
    bearer: tuple[BearerCredential, ...] = ()
    oauth_clients: tuple[OAuthClient, ...] = ()
    oauth_token_ttl: int = 3600
    oauth_signing_key: Secret | None = None
    failed_attempts_per_minute: int = 30


@dataclass(frozen=True, slots=True)
class ScimSettings:
    """The SCIM endpoint: the master's ``scim`` block plus protocol limits."""

    enabled: bool = True
    auth: AuthSettings = field(default_factory=AuthSettings)
    max_results: int = 1000
    default_count: int = 100
    max_payload_bytes: int = 1_048_576
    max_json_depth: int = 32
    strict: bool = False


@dataclass(frozen=True, slots=True)
class MasterSettings:
    """How the bridge reaches the Determined master and authenticates to it."""

    url: str = ""
    token: Secret | None = None
    username: str | None = None
    password: Secret | None = None
    verify_tls: bool = True
    ca_file: str | None = None
    connect_timeout: float = 5.0
    request_timeout: float = 30.0
    login_timeout: float = 60.0
    max_concurrency: int = 16
    retries: int = 3


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """The bridge's own listener."""

    host: str = "127.0.0.1"
    port: int = 8080
    tls_cert: str | None = None
    tls_key: str | None = None
    base_path: str = "/scim/v2"
    public_url: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    shutdown_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """The SQLite side store."""

    path: str = "./scim-bridge.db"
    # Seconds a statement waits for another process's write lock (a CLI pass, an sqlite3 shell) before the request
    # answers 503; a write that gives up waits up to three times this (its intent or binding, its audit line).
    busy_timeout: float = 5.0
    # Days a finished (done or rolled back) write intent is kept, then pruned by `serve`; 0 keeps them forever.
    # Nothing reads an intent once finished except a repeated finish of it (a request racing a resolver),
    # seconds later; at least a day, so a resolver that read it pending never finds it gone.
    intent_retention_days: float = 7.0
    # Days an audit line is kept, then pruned by `serve`; 0 keeps them forever.
    audit_retention_days: float = 90.0


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    """structlog output."""

    format: Literal["json", "console"] = "json"
    level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass(frozen=True, slots=True)
class UsersSettings:
    """How SCIM users become Determined users."""

    create_remote: bool = True
    password_sync: bool = False
    display_name_source: tuple[str, ...] = (
        "displayName",
        "name.formatted",
        "name.givenFamily",
        "userName",
    )
    on_delete: Literal["deactivate"] = "deactivate"
    protected_usernames: tuple[str, ...] = ("admin", "determined")


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    """Background reconciliation with the master; interval 0 turns it off."""

    interval: float = 0.0
    policy: Literal["idp_wins", "report_only"] = "idp_wins"
    # Pending intents younger than this may belong to a request still in flight; only start-up (when no
    # request can be in flight) resolves them all.
    intent_grace: float = 120.0
    # Link unmanaged master users and groups by name at start-up, as `scim-bridge adopt` does.
    adopt_on_start: bool = False
    # The most user.missing mappings one repair pass retires. More at once looks like a wrong master (a
    # restored backup, a staging or freshly reset one) rather than users gone from this one, so the pass then
    # repairs nothing and says so (`reconcile --repair --allow-mass-retire` overrides it once).
    max_retire: int = 10
    # The same bound as a share of the live mapped users, for directories too small for the count to matter
    # (with 10, a directory of 10 users could lose all of them); a pass may always retire one (guard.py).
    # A quarter meets the count at 40 users, so past that the count is the bound.
    max_retire_fraction: float = 0.25


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """Prometheus ``/metrics`` and the operator ``/status`` summary; ``port`` set moves both off the main listener."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int | None = None
    token: Secret | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the bridge needs, parsed once at start-up."""

    scim: ScimSettings = field(default_factory=ScimSettings)
    master: MasterSettings = field(default_factory=MasterSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    users: UsersSettings = field(default_factory=UsersSettings)
    reconcile: ReconcileSettings = field(default_factory=ReconcileSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    mode: Literal["normal", "shadow"] = "normal"


def hash_token(token: str) -> str:
    """SHA-256 hex digest under which bearer tokens are kept and compared."""
    return hashlib.sha256(token.encode()).hexdigest()


class _Reader:
    """Walks raw YAML data, resolving ``${ENV}`` and ``*_file`` keys and collecting problems."""

    def __init__(self, environ: Mapping[str, str], base_dir: Path) -> None:
        self.environ = environ
        self.base_dir = base_dir
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def substitute(self, path: str, value: object) -> object:
        if not isinstance(value, str):
            return value

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.environ:
                self.problem(path, f"environment variable {name} is not set")
                return ""
            return self.environ[name]

        return _ENV_REF.sub(replace, value)

    def read_file_secret(self, path: str, file_name: object) -> str | None:
        if not isinstance(file_name, str) or not file_name:
            self.problem(path, "must be a file path")
            return None
        file_path = Path(file_name)
        if not file_path.is_absolute():
            file_path = self.base_dir / file_path
        try:
            return file_path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            self.problem(path, f"cannot read secret file: {exc.strerror or 'unreadable'}")
            return None

    def mapping(self, path: str, raw: object) -> dict[str, object] | None:
        """Return the mapping with ``x_file`` keys folded into ``x`` and env references resolved."""
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.problem(path or "<root>", "must be a mapping")
            return None
        out: dict[str, object] = {}
        for key, value in raw.items():
            key_path = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str):
                self.problem(key_path, "keys must be strings")
                continue
            if key.endswith("_file") and key.removesuffix("_file") in SECRET_KEYS:
                secret = self.read_file_secret(key_path, self.substitute(key_path, value))
                if secret is not None:
                    out[key.removesuffix("_file")] = secret
                continue
            out[key] = self.substitute(key_path, value)
        return out


def _coerce(reader: _Reader, path: str, value: object, hint: object) -> object:
    """Convert one scalar or list to the field's annotated type, recording a problem on mismatch."""
    origin = get_origin(hint)
    args = get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = next(a for a in args if a is not type(None))
        return _coerce(reader, path, value, inner)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(str(a) for a in args)
            reader.problem(path, f"must be one of: {choices}")
        return value
    if origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            reader.problem(path, "must be a list")
            return ()
        return tuple(_coerce(reader, f"{path}[{i}]", v, args[0]) for i, v in enumerate(value))
    if hint is Secret:
        text = _coerce(reader, path, value, str)
        return Secret(text) if isinstance(text, str) else None
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        reader.problem(path, "must be a boolean")
        return False
    if hint is int:
        if isinstance(value, bool):
            reader.problem(path, "must be an integer")
            return 0
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        reader.problem(path, "must be an integer")
        return 0
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        reader.problem(path, "must be a number")
        return 0.0
    if hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        reader.problem(path, "must be a string")
        return ""
    raise TypeError(f"unsupported settings type {hint!r}")


def _section(reader: _Reader, path: str, raw: object, cls: type[_T]) -> _T:
    """Build a settings dataclass from a mapping: unknown keys and bad types are problems."""
    data = reader.mapping(path, raw)
    if data is None:
        return cls()
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, object] = {}
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else key
        if key not in names:
            reader.problem(key_path, "unknown key")
            continue
        kwargs[key] = _coerce(reader, key_path, value, hints[key])
    return cls(**kwargs)


def _mappings_in(
    reader: _Reader, path: str, items: Sequence[object]
) -> Iterator[tuple[str, dict[str, object]]]:
    """Each item of the list at `path` that is a mapping, with its own path; the others are problems."""
    for i, item in enumerate(items):
        entry = reader.mapping(f"{path}[{i}]", item)
        if entry is not None:
            yield f"{path}[{i}]", entry


def _required_mappings(reader: _Reader, path: str, raw: object) -> Iterator[tuple[str, dict[str, object]]]:
    """As `_mappings_in`, for a list that must be present and non-empty."""
    if not isinstance(raw, list) or not raw:
        reader.problem(path, "required: a non-empty list")
        return iter(())
    return _mappings_in(reader, path, raw)


def _auth_entries(reader: _Reader, path: str, raw: object) -> list[tuple[str, dict[str, object]]]:
    if isinstance(raw, list):
        return list(_mappings_in(reader, path, raw))
    entry = reader.mapping(path, raw)
    return [(path, entry)] if entry is not None else []


def _require_str(reader: _Reader, path: str, data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    if value is None or value == "":
        reader.problem(f"{path}.{key}", "required")
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        reader.problem(f"{path}.{key}", "must be a string")
        return ""
    return str(value)


def _check_keys(reader: _Reader, path: str, data: Mapping[str, object], allowed: set[str]) -> None:
    for key in data:
        if key not in allowed:
            reader.problem(f"{path}.{key}", "unknown key")


def _parse_auth(reader: _Reader, path: str, raw: object) -> AuthSettings:
    """``scim.auth``: one block (the master's shape) or a list of blocks, one per credential kind."""
    basic: list[BasicCredential] = []
    bearer: list[BearerCredential] = []
    clients: list[OAuthClient] = []
    ttl = 3600
    signing_key: Secret | None = None
    limit = 30
    for entry_path, entry in _auth_entries(reader, path, raw):
        kind = entry.get("type")
        common = {"type", "name", "failed_attempts_per_minute"}
        if "failed_attempts_per_minute" in entry:
            limit = int(
                _coerce(
                    reader,
                    f"{entry_path}.failed_attempts_per_minute",  # type: ignore[call-overload]
                    entry["failed_attempts_per_minute"],
                    int,
                )
            )
        if kind == "basic":
            _check_keys(reader, entry_path, entry, common | {"username", "password"})
            basic.append(
                BasicCredential(
                    name=str(entry.get("name") or "basic"),
                    username=_require_str(reader, entry_path, entry, "username"),
                    password=Secret(_require_str(reader, entry_path, entry, "password")),
                )
            )
        elif kind == "bearer":
            _check_keys(reader, entry_path, entry, common | {"tokens"})
            for token_path, token in _required_mappings(reader, f"{entry_path}.tokens", entry.get("tokens")):
                _check_keys(reader, token_path, token, {"name", "token", "token_sha256"})
                name = _require_str(reader, token_path, token, "name")
                if "token_sha256" in token:
                    digest = str(token["token_sha256"]).lower()
                    if not re.fullmatch(r"[0-9a-f]{64}", digest):
                        reader.problem(f"{token_path}.token_sha256", "must be 64 hex digits")
                    bearer.append(BearerCredential(name, digest))
                else:
                    plain = _require_str(reader, token_path, token, "token")
                    if plain and len(plain) < 16:
                        reader.problem(f"{token_path}.token", "must be at least 16 characters")
                    bearer.append(BearerCredential(name, hash_token(plain)))
        elif kind == "oauth":
            _check_keys(reader, entry_path, entry, common | {"clients", "token_ttl", "signing_key"})
            if "token_ttl" in entry:
                ttl = int(_coerce(reader, f"{entry_path}.token_ttl", entry["token_ttl"], int))  # type: ignore[call-overload]
            if "signing_key" in entry:
                signing_key = Secret(_require_str(reader, entry_path, entry, "signing_key"))
            for client_path, client in _required_mappings(
                reader, f"{entry_path}.clients", entry.get("clients")
            ):
                _check_keys(reader, client_path, client, {"name", "client_id", "client_secret"})
                client_id = _require_str(reader, client_path, client, "client_id")
                clients.append(
                    OAuthClient(
                        name=str(client.get("name") or client_id),
                        client_id=client_id,
                        client_secret=Secret(_require_str(reader, client_path, client, "client_secret")),
                    )
                )
        else:
            reader.problem(f"{entry_path}.type", "must be one of: basic, bearer, oauth")
    return AuthSettings(tuple(basic), tuple(bearer), tuple(clients), ttl, signing_key, limit)


def _parse_scim(reader: _Reader, path: str, raw: object) -> ScimSettings:
    data = reader.mapping(path, raw)
    if data is None:
        return ScimSettings()
    auth_raw = data.pop("auth", None)
    base = _section(reader, path, data, ScimSettings)
    auth = _parse_auth(reader, f"{path}.auth", auth_raw) if auth_raw is not None else AuthSettings()
    return dataclasses.replace(base, auth=auth)


_SECTIONS: Final[dict[str, Callable[[_Reader, str, object], object]]] = {
    "scim": _parse_scim,
    "master": lambda r, p, raw: _section(r, p, raw, MasterSettings),
    "server": lambda r, p, raw: _section(r, p, raw, ServerSettings),
    "database": lambda r, p, raw: _section(r, p, raw, DatabaseSettings),
    "logging": lambda r, p, raw: _section(r, p, raw, LoggingSettings),
    "users": lambda r, p, raw: _section(r, p, raw, UsersSettings),
    "reconcile": lambda r, p, raw: _section(r, p, raw, ReconcileSettings),
    "metrics": lambda r, p, raw: _section(r, p, raw, MetricsSettings),
}


def _apply_env_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    """``SCIM_BRIDGE_MASTER__URL=...`` sets ``master.url``: sections and keys split by ``__``."""
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name or name == CONFIG_ENV:
            continue
        parts = [p.lower() for p in name.removeprefix(ENV_PREFIX).split("__")]
        target = raw
        for part in parts[:-1]:
            existing = target.get(part)
            if not isinstance(existing, dict):
                existing = {}
                target[part] = existing
            target = existing
        target[parts[-1]] = value


# Longest retention accepted, in days: far beyond any audit policy, and the cut-off stays a valid date.
MAX_RETENTION_DAYS: Final = 36500.0


def _validate_retention(settings: Settings, reader: _Reader) -> None:
    database = settings.database
    for key, days in (
        ("database.intent_retention_days", database.intent_retention_days),
        ("database.audit_retention_days", database.audit_retention_days),
    ):
        if days != 0 and not 1 <= days <= MAX_RETENTION_DAYS:
            reader.problem(key, f"must be 0 (keep forever) or between 1 and {MAX_RETENTION_DAYS:.0f} days")
    intents_s = database.intent_retention_days * 86400
    if database.intent_retention_days >= 1 and intents_s <= settings.reconcile.intent_grace:
        # A pending intent is resolved only after the grace; its finished row must outlive that resolution.
        reader.problem("database.intent_retention_days", "must be longer than reconcile.intent_grace")


def _unresolvable_host(url: str) -> str | None:
    """Why the resolver could not take the URL's host name, or None.

    aiohttp hands yarl's (IDNA-encoded) host to getaddrinfo, which refuses an empty label or one over 63
    characters, and no resolver answers for a name over 253: each master call would fail as a connect error.
    """
    try:
        host = URL(url).raw_host
    except ValueError as exc:  # an IDN that does not encode (UnicodeError is a ValueError)
        return f"host name cannot be encoded ({exc})"
    if not host:
        return "must name a host"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None
    name = host.removesuffix(".")  # the root label of a fully qualified name is allowed
    if len(name) > 253:
        return "host name is longer than 253 characters"
    for label in name.split("."):
        if not label:
            return f"host name {host!r} has an empty label"
        if len(label) > 63:
            return f"host name label {label[:16]}... is longer than 63 characters"
    return None


def _validate(settings: Settings, reader: _Reader) -> None:
    if not settings.master.url:
        reader.problem("master.url", "required")
    elif not re.match(r"^https?://[^/\s]+", settings.master.url):
        reader.problem("master.url", "must be an http(s) URL")
    elif (host_problem := _unresolvable_host(settings.master.url)) is not None:
        reader.problem("master.url", host_problem)
    already_reported = any(p.startswith(("master.token", "master.password")) for p in reader.problems)
    if (
        settings.master.token is None
        and not (settings.master.username and settings.master.password)
        and not already_reported
    ):
        if settings.master.username and settings.master.password is None:
            reader.problem("master.password", "required with master.username")
        elif not settings.master.username:
            reader.problem("master.token", "required (or master.username and master.password)")
    if not settings.server.base_path.startswith("/"):
        reader.problem("server.base_path", "must start with /")
    if bool(settings.server.tls_cert) != bool(settings.server.tls_key):
        reader.problem("server.tls_key", "tls_cert and tls_key go together")
    if not 0 <= settings.server.port <= 65535:
        reader.problem("server.port", "must be between 0 and 65535")
    if settings.server.public_url and not re.match(r"^https?://", settings.server.public_url):
        reader.problem("server.public_url", "must be an http(s) URL")
    if not 0 <= settings.database.busy_timeout <= 600:
        reader.problem("database.busy_timeout", "must be between 0 and 600 seconds")
    _validate_retention(settings, reader)
    if settings.reconcile.max_retire < 0:
        reader.problem("reconcile.max_retire", "must be at least 0")
    if not 0 <= settings.reconcile.max_retire_fraction <= 1:
        reader.problem("reconcile.max_retire_fraction", "must be between 0 and 1")
    auth = settings.scim.auth
    if settings.scim.enabled and not (auth.basic or auth.bearer or auth.oauth_clients):
        reader.problem("scim.auth", "required: at least one credential")
    if settings.scim.max_results < 1:
        reader.problem("scim.max_results", "must be at least 1")
    if auth.oauth_token_ttl < 1:
        reader.problem("scim.auth.token_ttl", "must be at least 1 second")
    for i, proxy in enumerate(settings.server.trusted_proxies):
        try:
            proxy_networks(proxy)  # the parse TrustedProxies makes of it when the app is built
        except ValueError:
            reader.problem(f"server.trusted_proxies[{i}]", "must be an IP address or CIDR network")


def parse_settings(
    raw: object, environ: Mapping[str, str] | None = None, base_dir: Path | None = None
) -> Settings:
    """Validate raw config data into Settings, raising ConfigError listing every problem."""
    environ = os.environ if environ is None else environ
    reader = _Reader(environ, base_dir or Path.cwd())
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(["<root>: must be a mapping"])
    raw = dict(raw)
    _apply_env_overrides(raw, environ)
    kwargs: dict[str, object] = {}
    for key, value in raw.items():
        parser = _SECTIONS.get(key)
        if key == "mode":
            kwargs["mode"] = _coerce(
                reader,
                "mode",
                reader.substitute("mode", value),
                typing.get_type_hints(Settings)["mode"],
            )
        elif parser is None:
            reader.problem(str(key), "unknown key")
        else:
            kwargs[key] = parser(reader, key, value)
    settings = Settings(**kwargs)  # type: ignore[arg-type]
    _validate(settings, reader)
    if reader.problems:
        raise ConfigError(reader.problems)
    return settings


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the YAML file named by ``path``, ``$SCIM_BRIDGE_CONFIG`` or ./scim-bridge.yaml."""
    environ = os.environ if environ is None else environ
    file_path = Path(path or environ.get(CONFIG_ENV) or "scim-bridge.yaml")
    try:
        text = file_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{file_path}: cannot read config file: {exc.strerror}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError([f"{file_path}: invalid YAML{where}"]) from None
    return parse_settings(raw, environ, file_path.parent)
