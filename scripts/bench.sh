#!/usr/bin/env bash
# Runs `threadwork bench slack` (the bot beside a Bolt for Python peer, one run, one table).
# Installs the peer's dependencies first: Python's venv in .venv with slack_bolt from PyPI.
#   bash scripts/bench.sh [--rate 1000 --secs 10 --mentions 30 --jobs 200]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import slack_bolt, slack_sdk' 2>/dev/null; then
  echo "bench setup: slack_bolt and slack_sdk into .venv (from PyPI)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'slack_bolt==1.30.0' 'slack_sdk==3.47.0'
fi
# The benches come with the development tools (`--features fakes`).
cargo build --release --quiet --features fakes
exec target/release/threadwork bench slack --python .venv/bin/python "$@"
