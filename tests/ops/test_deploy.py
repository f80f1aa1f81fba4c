"""Static validation of deploy/: Dockerfile, compose file, Kubernetes manifests, systemd unit, nginx.

No Docker engine, compose plugin or cluster exists on this machine (deploy/README.md): the manifests are
schema-checked offline with kubernetes-validate, the unit with ``systemd-analyze`` where it exists, and
everything else structurally. The container config file is loaded with the bridge's own parser.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from bridge.config import parse_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "kubernetes"
K8S_VERSION = "1.30.0"


def _yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _manifests() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in _yaml_documents(path):
            out[doc["kind"]] = doc
    return out


# --- Dockerfile ------------------------------------------------------------------------------------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        word, _, rest = stripped.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_shape() -> None:
    steps = _instructions((DEPLOY / "Dockerfile").read_text())
    froms = [args for op, args in steps if op == "FROM"]
    assert len(froms) == 2, "multi-stage: a build stage and a runtime stage"
    assert all(args.startswith("${PYTHON_IMAGE}") for args in froms)
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in steps
    runtime = steps[[i for i, (op, _) in enumerate(steps) if op == "FROM"][-1] :]
    users = [args for op, args in runtime if op == "USER"]
    assert users == ["10001:10001"], "the runtime stage runs as a fixed non-root uid"
    assert any(op == "COPY" and args.startswith("--from=build") for op, args in runtime)
    assert ("VOLUME", '["/var/lib/scim-bridge"]') in runtime
    health = [args for op, args in runtime if op == "HEALTHCHECK"]
    assert len(health) == 1
    assert '"python", "-c"' in health[0], "slim images have no curl"
    assert "SCIM_BRIDGE_HEALTHCHECK_URL" in health[0]
    env = " ".join(args for op, args in runtime if op == "ENV")
    assert "SCIM_BRIDGE_HEALTHCHECK_URL=http://127.0.0.1:8080/healthz" in env
    assert "SCIM_BRIDGE_CONFIG=/etc/scim-bridge/scim-bridge.yaml" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env, "read-only root filesystem: no __pycache__ writes"
    assert ("ENTRYPOINT", '["scim-bridge"]') in runtime
    # Every COPY source exists in the build context and is let through the dockerignore file.
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for op, args in steps:
        if op == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                assert (DEPLOY.parent / source).exists(), source
                assert {f"!{source.rstrip('/')}", f"!{source.rstrip('/')}/"} & set(ignore), source


def test_healthcheck_command_is_valid_python() -> None:
    steps = _instructions((DEPLOY / "Dockerfile").read_text())
    (health,) = [args for op, args in steps if op == "HEALTHCHECK"]
    exec_form = health[health.index("CMD") + 3 :].strip()
    argv = yaml.safe_load(exec_form)
    assert argv[:2] == ["python", "-c"]
    compile(argv[2], "<healthcheck>", "exec")


def test_container_config_loads(tmp_path: Path) -> None:
    """The config baked into the image is valid once its secret files exist (compose/K8s mount them)."""
    text = (DEPLOY / "docker" / "scim-bridge.yaml").read_text()
    token, password = tmp_path / "determined-token", tmp_path / "scim-basic-password"
    token.write_text("v2.public.token\n")
    password.write_text("idp-password-123\n")
    text = text.replace("/run/scim-bridge/determined-token", str(token))
    text = text.replace("/run/secrets/scim-basic-password", str(password))
    settings = parse_settings(yaml.safe_load(text), environ={}, base_dir=tmp_path)
    assert settings.database.path == "/var/lib/scim-bridge/scim-bridge.db"
    assert settings.server.host == "0.0.0.0"  # noqa: S104 - inside a container network namespace
    assert settings.server.port == 8080
    assert settings.master.token is not None
    assert settings.master.token.reveal() == "v2.public.token"


# --- docker compose --------------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    (doc,) = _yaml_documents(DEPLOY / "docker-compose.yaml")
    assert isinstance(doc, dict)
    return doc


def test_compose_services_and_order() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"determined-db", "determined-master", "scim-bridge-bootstrap", "scim-bridge"}
    assert services["determined-master"]["image"].startswith("determinedai/determined-master:")
    assert services["determined-db"]["image"].startswith("postgres:")
    master_env = services["determined-master"]["environment"]
    db_env = services["determined-db"]["environment"]
    assert master_env["DET_DB_HOST"] == "determined-db"
    assert master_env["DET_DB_NAME"] == db_env["POSTGRES_DB"]
    assert master_env["DET_DB_PASSWORD"] == db_env["POSTGRES_PASSWORD"]
    assert "DET_SECURITY_INITIAL_USER_PASSWORD" in master_env
    bridge = services["scim-bridge"]
    assert bridge["depends_on"] == {"scim-bridge-bootstrap": {"condition": "service_completed_successfully"}}
    assert bridge["read_only"] is True
    assert bridge["cap_drop"] == ["ALL"]
    assert "/tmp" in bridge["tmpfs"]


def test_compose_bootstrap_shares_the_token_file() -> None:
    services = _compose()["services"]
    boot, bridge = services["scim-bridge-bootstrap"], services["scim-bridge"]
    assert boot["command"][0] == "bootstrap"
    assert boot["restart"] == "no"
    flags = dict(arg.removeprefix("--").split("=", 1) for arg in boot["command"][1:])
    assert flags["master-url"] == bridge["environment"]["SCIM_BRIDGE_MASTER__URL"]
    assert flags["token-file"] == bridge["environment"]["SCIM_BRIDGE_MASTER__TOKEN_FILE"]
    token_dir = str(Path(flags["token-file"]).parent)
    assert f"bridge-credential:{token_dir}" in boot["volumes"]
    assert f"bridge-credential:{token_dir}:ro" in bridge["volumes"]
    assert "bridge-data:/var/lib/scim-bridge" in bridge["volumes"]
    assert "DET_ADMIN_PASSWORD" in boot["environment"]
    # The flags are the real CLI's: parse them with its parser.
    from bridge.__main__ import _parser

    args = _parser().parse_args(boot["command"])
    assert args.command == "bootstrap"
    assert args.wait == 300.0


def test_compose_references_resolve() -> None:
    compose = _compose()
    declared_volumes = set(compose["volumes"])
    declared_secrets = set(compose["secrets"])
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source in declared_volumes, f"{name}: volume {source}"
        for secret in service.get("secrets", []):
            assert secret["source"] in declared_secrets, f"{name}: secret {secret}"
        for dependency in service.get("depends_on", {}):
            assert dependency in compose["services"], f"{name}: depends_on {dependency}"
        if "build" in service:
            assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    env_example = dict(
        line.split("=", 1)
        for line in (DEPLOY / "compose.env.example").read_text().splitlines()
        if "=" in line
    )
    required = set(re.findall(r"\$\{([A-Z_]+):\?", (DEPLOY / "docker-compose.yaml").read_text()))
    assert required <= set(env_example), "every required variable has an example"


# --- Kubernetes ------------------------------------------------------------------------------------------


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = _yaml_documents(K8S / "kustomization.yaml")
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


@pytest.mark.parametrize(
    "kind", ["Deployment", "Service", "PersistentVolumeClaim", "ConfigMap", "Secret", "NetworkPolicy"]
)
def test_manifest_schema(kind: str) -> None:
    manifest = _manifests()[kind]
    assert kubernetes_validate.validate(manifest, K8S_VERSION, strict=True) == "1.30"


def test_schema_check_catches_mistakes() -> None:
    """Negative control: the validator really rejects an unknown field and a wrong type."""
    deployment = copy.deepcopy(_manifests()["Deployment"])
    deployment["spec"]["replica"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    deployment = copy.deepcopy(_manifests()["Deployment"])
    deployment["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_deployment_invariants() -> None:
    deployment = _manifests()["Deployment"]
    spec = deployment["spec"]
    assert spec["replicas"] == 1, "SQLite is single-writer"
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert (
        volumes["data"]["persistentVolumeClaim"]["claimName"]
        == _manifests()["PersistentVolumeClaim"]["metadata"]["name"]
    )
    assert mounts["data"] == "/var/lib/scim-bridge"
    assert volumes["config"]["configMap"]["name"] == _manifests()["ConfigMap"]["metadata"]["name"]
    assert volumes["secrets"]["secret"]["secretName"] == _manifests()["Secret"]["metadata"]["name"]
    # Secret files are root-owned with group fsGroup: the non-root user reads them through the group bit.
    assert volumes["secrets"]["secret"]["defaultMode"] & 0o040
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert set(_manifests()["Service"]["spec"]["selector"].items()) <= set(
        spec["template"]["metadata"]["labels"].items()
    )
    policy = _manifests()["NetworkPolicy"]
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]} == set(ports.values())


def test_configmap_config_matches_mounts(tmp_path: Path) -> None:
    """The ConfigMap's config parses, and every file it names sits on a mount the Deployment provides."""
    config_text = _manifests()["ConfigMap"]["data"]["scim-bridge.yaml"]
    secret_keys = set(_manifests()["Secret"]["stringData"])
    referenced = set(re.findall(r"/run/scim-bridge/([a-z-]+)", config_text))
    assert referenced <= secret_keys
    for key in referenced:
        (tmp_path / key).write_text(f"{key}-value-0123456789\n")
    settings = parse_settings(
        yaml.safe_load(config_text.replace("/run/scim-bridge/", f"{tmp_path}/")),
        environ={},
        base_dir=tmp_path,
    )
    assert settings.metrics.port == 9102
    assert settings.database.path.startswith("/var/lib/scim-bridge/")
    pod = _manifests()["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/etc/scim-bridge", "/run/scim-bridge"}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["SCIM_BRIDGE_CONFIG"] == "/etc/scim-bridge/scim-bridge.yaml"


# --- systemd ---------------------------------------------------------------------------------------------

UNIT = DEPLOY / "systemd" / "scim-bridge.service"


def _unit_directives() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    section = ""
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key}", []).append(value)
    return out


def test_systemd_unit_hardening() -> None:
    directives = _unit_directives()
    expected = {
        "Service.DynamicUser": "yes",
        "Service.ProtectSystem": "strict",
        "Service.StateDirectory": "scim-bridge",
        "Service.NoNewPrivileges": "yes",
        "Service.PrivateTmp": "yes",
        "Service.ProtectHome": "yes",
        "Service.CapabilityBoundingSet": "",
        "Service.RestrictSUIDSGID": "yes",
        "Service.ExecReload": "/bin/kill -HUP $MAINPID",
    }
    for key, value in expected.items():
        assert directives.get(key) == [value], key
    assert directives["Service.ExecStart"][0].endswith("scim-bridge serve")
    assert "WorkingDirectory" not in directives or directives["Service.WorkingDirectory"] == [
        "/var/lib/scim-bridge"
    ]
    assert directives["Install.WantedBy"] == ["multi-user.target"]


def test_systemd_analyze(tmp_path: Path) -> None:
    """``systemd-analyze verify`` and the offline security score; the binary path points at this venv."""
    analyze = shutil.which("systemd-analyze")
    # The directive checks above run everywhere; this machine kind ships systemd-analyze, so CI runs this too.
    assert analyze is not None, "systemd-analyze is expected on this machine (Debian systemd package)"
    unit = tmp_path / "scim-bridge.service"
    executable = str(Path(sys.executable).with_name("scim-bridge"))
    unit.write_text(UNIT.read_text().replace("/opt/scim-bridge/bin/scim-bridge", executable))
    verify = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr
    assert verify.stderr.strip() == ""
    security = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
    assert match is not None, security.stdout[-500:]
    assert float(match.group(1)) <= 2.0


# --- nginx -----------------------------------------------------------------------------------------------


def test_nginx_snippet_forwards_what_the_bridge_reads() -> None:
    text = (DEPLOY / "nginx" / "scim-bridge.conf").read_text()
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text
    assert "proxy_set_header X-Forwarded-Host $host;" in text
    assert "ssl_certificate " in text
    assert "ssl_certificate_key " in text
    assert "location /scim/v2/" in text
    assert "$http_authorization" not in text.replace("(no $http_authorization)", "")
    assert text.count("{") == text.count("}")
