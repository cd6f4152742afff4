#!/usr/bin/env bash
# Installs what the tests need (git, Slack's Python SDK in .venv, an MCP server from npm, Docker
# Engine and the harness images, cargo-fuzz) and runs every check: formatting, clippy, all
# tests, and a fixed-length fuzz run. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "git (the bot clones and pushes with it; the PR tests serve repositories with git http-backend)"
if ! command -v git >/dev/null || [ ! -x "$(git --exec-path 2>/dev/null)/git-http-backend" ]; then
  apt-get update -qq && apt-get install -y -qq git >/dev/null
fi

step "test peers: Python venv with slack_sdk (from PyPI)"
if ! command -v python3 >/dev/null; then
  if command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
  else
    echo "python3 is required for the Slack SDK tests" >&2; exit 1
  fi
fi
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import slack_sdk' 2>/dev/null; then
  python3 -m venv .venv || { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && python3 -m venv .venv; }
  .venv/bin/pip install --quiet --disable-pip-version-check 'slack_sdk==3.47.0'
fi
export THREADWORK_PYTHON="$PWD/.venv/bin/python"

step "an MCP server from npm for the gateway tests (@modelcontextprotocol/server-everything)"
MCP_DIR="$PWD/target/test-npm"
if [ ! -f "$MCP_DIR/node_modules/@modelcontextprotocol/server-everything/dist/index.js" ]; then
  if ! command -v npm >/dev/null; then
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  fi
  mkdir -p "$MCP_DIR"
  npm install --prefix "$MCP_DIR" --silent --no-audit --no-fund \
    '@modelcontextprotocol/server-everything@2026.8.31' >/dev/null
fi
export THREADWORK_MCP_EVERYTHING="$MCP_DIR/node_modules/@modelcontextprotocol/server-everything/dist/index.js"

step "container runtime: Docker Engine and the harness image"
bash scripts/docker-up.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

# The product as it ships: without the development tools (the tests build with them).
step "cargo clippy --lib --bins -- -D warnings (without the fakes)"
cargo clippy --lib --bins --quiet -- -D warnings

step "cargo test"
cargo test --quiet --no-fail-fast 2>&1 | tee target/test-output.txt

# The product's binary (built without the fakes) runs and leaves the development tools out.
step "the product build: threadwork without the development tools"
cargo build --quiet
product="${CARGO_TARGET_DIR:-target}/debug/threadwork"
"$product" --help >/dev/null
if "$product" dev >/dev/null 2>target/no-fakes.txt || ! grep -q -- "--features fakes" target/no-fakes.txt; then
  echo "the product build should leave dev mode out and say how to get it" >&2
  exit 1
fi

step "fuzz: the envelope decoder and the request parser (cargo fuzz, a fixed number of runs)"
bash scripts/fuzz.sh

# One closing line over every test binary, for readers and CI alike.
awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' target/test-output.txt
