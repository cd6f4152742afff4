#!/usr/bin/env bash
# Builds a local Debian base image with debootstrap + `docker import`, for machines
# that reach Debian's package mirror but no image registry (CI here). The result is
# passed to the other Dockerfiles as `--build-arg BASE=<tag>`.
# Debian 13 (trixie) by default: its nodejs (20.x) is new enough for the harness CLIs.
# Usage: docker/build-local-base.sh [tag]   (default tag: threadwork/debian-base:trixie)
set -euo pipefail
suite="${DEBIAN_SUITE:-trixie}"
tag="${1:-threadwork/debian-base:$suite}"
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag already present"; exit 0
fi
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
mirror="${DEBIAN_MIRROR:-$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)}"
if [ -z "$mirror" ]; then
  mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)"
fi
root="$(mktemp -d /tmp/threadwork-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase "$suite" "$root" "$mirror" >/tmp/threadwork-debootstrap.log 2>&1 \
  || { tail -20 /tmp/threadwork-debootstrap.log >&2; exit 1; }
# The image's apt uses the same mirror the machine uses.
echo "deb $mirror $suite main" > "$root/etc/apt/sources.list"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import - "$tag" >/dev/null
echo "built base image $tag"
