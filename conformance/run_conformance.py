"""Score scim-bridge with the external SCIM suites of ../shared/conformance/run.sh (``make conformance``).

For each auth mode (basic, bearer) it starts ``scim-bridge demo`` (bridge + in-process master emulator)
with a fresh SQLite file, runs the shared run.sh against it, subtracts the checks excluded in
``conformance/exclusions.toml`` (reasons in docs/conformance.md) and prints one line per suite and a total.
Exit status: 0 when every applicable check passed, 1 when one failed or a suite did not run, 2 on setup errors.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from conformance.shared_checkout import shared_dir

ROOT: Final = Path(__file__).resolve().parent.parent
SUITES: Final = ("ms-postman", "scim2-tester", "scim-sanity", "okta-spec", "okta-legacy")
AUTH_MODES: Final = ("basic", "bearer")
FAIL_WORDS: Final = ("FAIL", "ERROR", "CRITICAL", "DEVIATION")
SUMMARY_RE: Final = re.compile(
    r"^(?P<suite>[\w-]+): (?P<passed>\d+) passed, (?P<failed>\d+) failed, (?P<skipped>\d+) skipped$"
)
NOT_RUN_RE: Final = re.compile(r"^(?P<suite>[\w-]+): not run \((?P<why>.*)\)$")
STARTUP_SECONDS: Final = 30.0


@dataclass(frozen=True, slots=True)
class Exclusion:
    """One external check we do not count, with the reason (also listed in docs/conformance.md)."""

    suite: str
    check: str
    reason: str
    auth: str = "any"
    # Some suites give many checks one name (scim2-tester: one per attribute); the detail tells them apart.
    detail: str = "*"

    def matches(self, suite: str, auth: str, check: str, detail: str) -> bool:
        """True if this rule covers the failed ``check`` (with its ``detail``) of ``suite`` under ``auth``."""
        return (
            self.suite == suite
            and self.auth in ("any", auth)
            and fnmatch.fnmatchcase(check, self.check)
            and fnmatch.fnmatchcase(detail, self.detail)
        )


@dataclass(slots=True)
class SuiteScore:
    """Counts for one suite under one auth mode, after exclusions."""

    suite: str
    auth: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    excluded: int = 0
    not_run: str | None = None
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The one-line summary printed for this suite."""
        if self.not_run is not None:
            return f"{self.auth:<6} {self.suite:<12} NOT RUN ({self.not_run})"
        applicable = self.passed + self.failed
        verdict = "ok" if self.failed == 0 else "FAILED"
        return (
            f"{self.auth:<6} {self.suite:<12} {self.passed}/{applicable} passed, {self.failed} failed, "
            f"{self.excluded} excluded, {self.skipped} skipped  {verdict}"
        )


def load_exclusions(path: Path) -> list[Exclusion]:
    """Read ``[[exclude]]`` tables (suite, check glob, reason, optional auth and detail glob) from TOML."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    rules = [Exclusion(**entry) for entry in data.get("exclude", [])]
    for rule in rules:
        if rule.suite not in SUITES or rule.auth not in ("any", *AUTH_MODES) or not rule.reason.strip():
            raise SystemExit(f"conformance: bad exclusion {rule!r} in {path}")
    return rules


def split_check(line: str) -> tuple[str, str]:
    """A raw suite log line's check name and detail: ``STATUS name  [detail]`` -> (name, detail)."""
    rest = line.split(" ", 1)[1] if " " in line else ""
    name, _, detail = rest.partition("  [")
    return name.strip(), detail.removesuffix("]").strip()


def score_suite(suite: str, auth: str, log: Path, rules: Sequence[Exclusion]) -> SuiteScore:
    """Count one suite's raw log (written by run.sh) against the exclusion rules."""
    score = SuiteScore(suite, auth)
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.exists() else []
    summary = next((m for m in map(SUMMARY_RE.match, reversed(lines)) if m and m["suite"] == suite), None)
    if summary is None:
        score.not_run = f"{why_not_run(log.parent, suite)}; see {log.parent}"
        return score
    score.passed, score.skipped = int(summary["passed"]), int(summary["skipped"])
    for line in lines:
        if line.split(" ", 1)[0] not in FAIL_WORDS:
            continue
        name, detail = split_check(line)
        if any(rule.matches(suite, auth, name, detail) for rule in rules):
            score.excluded += 1
        else:
            score.failures.append(line)
    # run.sh's failed count is authoritative; FAIL lines that were not excluded are the applicable ones.
    score.failed = max(int(summary["failed"]) - score.excluded, len(score.failures))
    return score


def why_not_run(out: Path, suite: str) -> str:
    """run.sh's own reason: its "<suite>: not run (...)" line, else the last line it wrote to stderr."""
    stdout = out / "run.sh.stdout"
    for line in stdout.read_text(encoding="utf-8", errors="replace").splitlines() if stdout.exists() else []:
        match = NOT_RUN_RE.match(line)
        if match and match["suite"] == suite:
            return match["why"]
    stderr = out / "run.sh.stderr"
    text = stderr.read_text(encoding="utf-8", errors="replace") if stderr.exists() else ""
    tail = [line for line in text.splitlines() if line.strip()]
    return tail[-1][:200] if tail else "no result"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(workdir: Path, basic_user: str, basic_pass: str, bearer: str) -> Path:
    """A throwaway config: both credential kinds, a fresh SQLite file; the emulator URL is set by demo."""
    config = workdir / "scim-bridge.yaml"
    text = f"""\
scim:
  enabled: true
  auth:
    - {{type: basic, name: conformance-basic, username: "{basic_user}", password: "{basic_pass}"}}
    - type: bearer
      tokens:
        - {{name: conformance-bearer, token: "{bearer}"}}
master:
  url: "http://127.0.0.1:1"
  username: "admin"
  password: "{secrets.token_hex(12)}"
database:
  path: "{workdir / "bridge.db"}"
logging:
  format: json
  level: info
"""
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return config


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll ``url`` until it answers 200; fail early if the bridge process exits."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"conformance: the bridge exited with status {process.returncode} at startup; see {log}"
            )
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=2) as response,  # noqa: S310 - our own local URL
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"conformance: the bridge did not answer {url} within {STARTUP_SECONDS:.0f} s")


@contextlib.contextmanager
def running_bridge(workdir: Path, config: Path) -> Iterator[str]:
    """Run ``scim-bridge demo`` on a free port; yield its SCIM base URL; stop it with SIGTERM."""
    port = free_port()
    exe = shutil.which("scim-bridge", path=str(ROOT / ".venv" / "bin")) or "scim-bridge"
    log_path = workdir / "bridge.log"
    log = log_path.open("wb")
    process = subprocess.Popen(  # noqa: S603 - fixed argv of our own CLI
        [exe, "--log-format", "json", "demo", "-c", str(config), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    try:
        wait_ready(process, f"http://127.0.0.1:{port}/healthz", log_path)
        yield f"http://127.0.0.1:{port}/scim/v2"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def run_suites(
    run_sh: Path, home: Path, base_url: str, auth_args: list[str], out: Path, extra: list[str]
) -> None:
    """Call the shared run.sh; its per-suite logs land in ``out``."""
    env = {**os.environ, "SCIM_TESTERS_HOME": str(home)}
    with (out / "run.sh.stdout").open("wb") as stdout, (out / "run.sh.stderr").open("wb") as stderr:
        subprocess.run(  # noqa: S603 - the shared suite runner with our arguments
            [
                shutil.which("bash") or "/bin/bash",
                str(run_sh),
                base_url,
                *auth_args,
                "--no-install",
                "--out",
                str(out),
                *extra,
            ],
            env=env,
            stdout=stdout,
            stderr=stderr,
            check=False,
        )


def pinned_specs(run_sh: Path) -> str:
    """run.sh's PIP_SPECS, joined the way it writes them to the venv's .specs file."""
    match = re.search(r"^PIP_SPECS=\((.*)\)$", run_sh.read_text(encoding="utf-8"), re.MULTILINE)
    if match is None:
        raise SystemExit(f"conformance: cannot find PIP_SPECS in {run_sh}")
    return " ".join(word.strip("'\"") for word in match.group(1).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run every suite under every auth mode and print the scores."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-sh", type=Path, default=shared_dir() / "conformance" / "run.sh")
    parser.add_argument("--home", type=Path, default=ROOT / "conformance" / ".home")
    parser.add_argument("--exclusions", type=Path, default=ROOT / "conformance" / "exclusions.toml")
    parser.add_argument("--auth", default=",".join(AUTH_MODES), help="comma-separated: basic,bearer")
    parser.add_argument("--only", help="comma-separated suites (passed to run.sh)")
    args = parser.parse_args(argv)
    run_sh, home = args.run_sh.resolve(), args.home.resolve()
    if not run_sh.is_file():
        print(
            f"conformance: {run_sh} not found (shared/ beside the clone, or set SCIM_BRIDGE_SHARED)",
            file=sys.stderr,
        )
        return 2
    specs = (
        (home / "venv" / ".specs").read_text(encoding="utf-8") if (home / "venv" / ".specs").exists() else ""
    )
    if specs != pinned_specs(run_sh):
        print(
            f"conformance: run.sh pins '{pinned_specs(run_sh)}' but the installed tools are '{specs}'; "
            "update the `conformance` extra in pyproject.toml and run conformance/setup.sh",
            file=sys.stderr,
        )
        return 2
    rules = load_exclusions(args.exclusions)
    suites = [s for s in SUITES if not args.only or s in args.only.split(",")]
    extra = ["--only", ",".join(suites)] if args.only else []
    runs = home / "runs" / time.strftime("%Y%m%d-%H%M%S")
    scores: list[SuiteScore] = []
    for auth in args.auth.split(","):
        out = runs / auth
        out.mkdir(parents=True)
        user, password, token = "conformance", secrets.token_urlsafe(18), secrets.token_urlsafe(32)
        auth_args = ["--basic", f"{user}:{password}"] if auth == "basic" else ["--bearer", token]
        # A new folder per run and auth mode, so the bridge starts on a fresh SQLite file.
        workdir = out / "bridge"
        workdir.mkdir()
        with running_bridge(workdir, write_config(workdir, user, password, token)) as base_url:
            print(f"conformance: {auth}: suites against {base_url}", file=sys.stderr, flush=True)
            run_suites(run_sh, home, base_url, auth_args, out, extra)
        scores += [score_suite(s, auth, out / f"{s}.log", rules) for s in suites]
    for score in scores:
        for failure in score.failures:
            print(f"  [{score.auth} {score.suite}] {failure}", file=sys.stderr)
    print(f"conformance: raw outputs in {runs}", file=sys.stderr)
    for score in scores:
        print(score.line())
    passed = sum(s.passed for s in scores)
    failed = sum(s.failed for s in scores)
    excluded = sum(s.excluded for s in scores)
    not_run = [f"{s.auth}/{s.suite}" for s in scores if s.not_run is not None]
    print(
        f"TOTAL: {passed}/{passed + failed} applicable checks passed, {failed} failed, {excluded} excluded"
        + (f", not run: {', '.join(not_run)}" if not_run else "")
    )
    return 1 if failed or not_run else 0


if __name__ == "__main__":
    sys.exit(main())
