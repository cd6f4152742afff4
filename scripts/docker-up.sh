#!/usr/bin/env bash
# Makes Docker usable for the sandbox tests: installs Debian's docker.io when dockerd is
# missing, starts dockerd when it is not running, and builds the harness and agents images.
# With CI=true any failure is fatal (the container tests must run); elsewhere it warns and
# the container tests report themselves skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "docker-up: $*" >&2
  if [ "${CI:-}" = true ]; then exit 1; fi
  echo "docker-up: continuing without Docker; the container tests will be skipped" >&2
  exit 0
}

if ! command -v dockerd >/dev/null 2>&1; then
  command -v apt-get >/dev/null || fail "dockerd is missing and apt-get is not available"
  echo "installing Docker Engine (Debian's docker.io)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null) \
    || fail "cannot install docker.io"
fi
command -v debootstrap >/dev/null 2>&1 || \
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null) || true

if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd"
  mkdir -p target
  nohup dockerd >target/dockerd.log 2>&1 &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { tail -20 target/dockerd.log >&2; fail "dockerd did not start"; }
fi

bash docker/build-images.sh harness || fail "cannot build the harness image"
bash docker/build-images.sh agents || fail "cannot build the agents image (Claude Code, Codex CLI, pi)"
