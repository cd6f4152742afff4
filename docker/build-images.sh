#!/usr/bin/env bash
# Builds the images the bot and its tests use. Where an image registry is reachable, the
# harness image builds FROM the public slim Node image; with THREADWORK_LOCAL_BASE=1 (or
# when that pull fails) it builds FROM a local Debian base made by build-local-base.sh.
# Usage: docker/build-images.sh [harness|bot|all]   (default: harness)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-harness}"
local_base="threadwork/debian-base:bookworm"

base_args=()
public_base_available() {
  docker image inspect node:20-bookworm-slim >/dev/null 2>&1 \
    || timeout 60 docker pull -q node:20-bookworm-slim >/dev/null 2>&1
}
if [ "${THREADWORK_LOCAL_BASE:-}" = 1 ] || ! public_base_available; then
  bash docker/build-local-base.sh "$local_base"
  base_args=(--build-arg "BASE=$local_base")
fi

build() { # tag dockerfile context
  echo "building $1"
  docker build -q -t "$1" "${base_args[@]}" -f "$2" "$3" >/dev/null
}

case "$what" in
  harness) build threadwork/harness:dev docker/harness/Dockerfile docker/harness ;;
  bot) build threadwork/bot:dev docker/bot/Dockerfile . ;;
  all) build threadwork/harness:dev docker/harness/Dockerfile docker/harness
       build threadwork/bot:dev docker/bot/Dockerfile . ;;
  *) echo "usage: $0 [harness|bot|all]" >&2; exit 2 ;;
esac
