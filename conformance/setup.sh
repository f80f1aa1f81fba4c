#!/usr/bin/env bash
# Install the external conformance tools from the project's own files, idempotently:
#   Python tools: the `conformance` extra of pyproject.toml, into conformance/.home/venv
#   newman:       conformance/node/package-lock.json (npm ci), linked into conformance/.home
# ../shared/conformance/run.sh then finds them where it looks (SCIM_TESTERS_HOME) and installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
HOME_DIR="${SCIM_TESTERS_HOME:-$PWD/conformance/.home}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$HOME_DIR"

# The pins live once, in pyproject.toml; run.sh accepts a venv whose .specs file equals its own pins.
specs="$("$PYTHON" - <<'PY'
import tomllib
with open("pyproject.toml", "rb") as fh:
    print(" ".join(tomllib.load(fh)["project"]["optional-dependencies"]["conformance"]))
PY
)"
venv="$HOME_DIR/venv"
if [ "$(cat "$venv/.specs" 2>/dev/null)" != "$specs" ]; then
  echo "conformance: installing $specs" >&2
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  # shellcheck disable=SC2086  # the specs are separate words on purpose
  if ! "$venv/bin/python" -m pip install --disable-pip-version-check $specs >"$HOME_DIR/setup.log" 2>&1; then
    tail -n 20 "$HOME_DIR/setup.log" >&2
    exit 1
  fi
  printf '%s' "$specs" > "$venv/.specs"
fi

node_dir="$PWD/conformance/node"
wanted="$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["dependencies"]["newman"])' "$node_dir/package.json")"
if [ "$("$node_dir/node_modules/.bin/newman" --version 2>/dev/null)" != "$wanted" ]; then
  command -v npm >/dev/null || { echo "conformance: npm is required (Node.js 18+)" >&2; exit 1; }
  echo "conformance: installing newman $wanted" >&2
  npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error >&2
fi
ln -sfn "$node_dir/node_modules" "$HOME_DIR/node_modules"
