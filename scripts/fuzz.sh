#!/usr/bin/env bash
# Fuzzes the event-envelope decoder and the request parser with cargo fuzz (libFuzzer).
#   bash scripts/fuzz.sh                     a fixed number of runs per target (CI: FUZZ_RUNS)
#   FUZZ_SECONDS=3600 bash scripts/fuzz.sh   a long run by hand, per target
# Installs cargo-fuzz from crates.io when missing. libFuzzer's instrumentation needs nightly
# flags: the nightly toolchain when the machine has one, else stable with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
if [ -n "${FUZZ_SECONDS:-}" ]; then
  limit=(-max_total_time="$FUZZ_SECONDS")
else
  limit=(-runs="${FUZZ_RUNS:-200000}")
fi
for target in envelope request; do
  echo "fuzzing $target (${limit[*]})"
  # A fixed seed keeps CI's runs repeatable; a long run by hand explores from its own.
  seed=()
  [ -z "${FUZZ_SECONDS:-}" ] && seed=(-seed=1)
  mkdir -p target
  log="target/fuzz-$target.log"
  if ! "${fuzz[@]}" run "$target" -- "${limit[@]}" "${seed[@]}" -max_len=8192 -print_final_stats=1 >"$log" 2>&1; then
    tail -60 "$log" >&2
    echo "fuzz target $target failed; the input is under fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || tail -3 "$log"
done
