#!/usr/bin/env bash
# Builds the images the bot and its tests use:
#   harness  threadwork/harness:dev — Node.js, git, socat, ripgrep, user `agent` (uid 1000)
#   agents   threadwork/agents:dev  — the harness image with Claude Code, Codex CLI, pi, Gemini CLI, opencode and Copilot CLI
#   bot      threadwork/bot:dev     — the release binary, prompts/, context/ and manifest.yml
# Each builds FROM a public base when one can be pulled; otherwise (or with
# THREADWORK_LOCAL_BASE=1) FROM a local Debian base made by docker/build-local-base.sh.
# Usage: docker/build-images.sh [harness|agents|bot|all]   (default: harness)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-harness}"
local_base="threadwork/debian-base:trixie"

# Prints the --build-arg for BASE: nothing when the public image is there or can be pulled.
base_arg() { # public-image
  if [ "${THREADWORK_LOCAL_BASE:-}" != 1 ] && { docker image inspect "$1" >/dev/null 2>&1 \
      || timeout 120 docker pull -q "$1" >/dev/null 2>&1; }; then
    return
  fi
  bash docker/build-local-base.sh "$local_base" >&2
  echo "--build-arg=BASE=$local_base"
}

build_harness() {
  echo "building threadwork/harness:dev"
  # shellcheck disable=SC2046
  docker build -q -t threadwork/harness:dev $(base_arg node:20-bookworm-slim) docker/harness >/dev/null
}

build_agents() {
  docker image inspect threadwork/harness:dev >/dev/null 2>&1 || build_harness
  echo "building threadwork/agents:dev"
  ctx="target/docker-agents"
  rm -rf "$ctx" && mkdir -p "$ctx/ca"
  cp docker/agents/Dockerfile "$ctx/"
  echo "extra CA certificates of the build machine" > "$ctx/ca/README"
  cp /usr/local/share/ca-certificates/*.crt "$ctx/ca/" 2>/dev/null || true
  docker build -q -t threadwork/agents:dev "$ctx" >/dev/null
}

build_bot() {
  echo "building threadwork/bot:dev"
  cargo build --release --quiet
  ctx="target/docker-bot"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp target/release/threadwork manifest.yml "$ctx/"
  cp -r prompts "$ctx/prompts"
  cp -r context "$ctx/context"
  # shellcheck disable=SC2046
  docker build -q -t threadwork/bot:dev $(base_arg debian:bookworm-slim) -f docker/bot/Dockerfile "$ctx" >/dev/null
}

case "$what" in
  harness) build_harness ;;
  agents) build_agents ;;
  bot) build_bot ;;
  all) build_harness; build_agents; build_bot ;;
  *) echo "usage: $0 [harness|agents|bot|all]" >&2; exit 2 ;;
esac
