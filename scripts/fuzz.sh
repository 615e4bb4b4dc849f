#!/usr/bin/env bash
# Coverage-guided fuzzing of every reader of a file a user hands over (make fuzz).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Each target of fuzz/fuzz_targets runs under libFuzzer with AddressSanitizer for the
# given time (default 60 s), starting from the committed seeds in fuzz/seeds/TARGET
# plus whatever corpus earlier runs grew in fuzz/corpus/TARGET, with a memory limit
# (-rss_limit_mb, also the largest single allocation allowed) and a per-input time
# limit (-timeout, a hang). A crash, hang or over-limit allocation stops that target
# and leaves the input in fuzz/artifacts/TARGET/; copy it to fuzz/regressions/TARGET/
# so that tests/readers.rs replays it in the normal test suite.
#
# Needs a nightly toolchain and cargo-fuzz (installed here if missing). Prints one
# line per target (runs, coverage, features, corpus, outcome) and writes them to
# report/fuzz/summary.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=($(cd fuzz/fuzz_targets && ls *.rs | sed 's/\.rs$//'))
fi
RSS_MB=${FUZZ_RSS_MB:-2048}

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || [ -x "$HOME/.cargo/bin/cargo-fuzz" ] || cargo install --locked cargo-fuzz
export PATH="$HOME/.cargo/bin:$PATH"
# the fuzz binaries link libtorch (the crate does) but carry no rpath to it
export LD_LIBRARY_PATH="$ROOT/.venv/torch/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LIBTORCH="$ROOT/.venv/torch"

(cd fuzz && cargo +nightly fuzz build -O)
mkdir -p report/fuzz
summary=report/fuzz/summary.json
echo "[" > "$summary.tmp"
first=1
failed=0
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log="report/fuzz/$t.log"
  status=ok
  started=$SECONDS
  (cd fuzz && cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
      -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" -timeout=10 \
      -print_final_stats=1) > "$log" 2>&1 || status=failed
  # the last status line: "#RUNS  DONE|pulse  cov: C ft: F corp: N/SIZE ..."
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")
  elapsed=$((SECONDS - started))  # a crash stops the target early
  [ "$status" = ok ] || failed=1
  printf '%-12s %-6s %10s runs in %5s s   cov %5s   ft %6s   corpus %5s   log %s\n' "$t" "$status" "$runs" "$elapsed" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$log"
  [ $first = 1 ] || echo "," >> "$summary.tmp"
  first=0
  printf '  {"target": "%s", "status": "%s", "seconds": %s, "runs": %s, "cov": %s, "ft": %s, "corpus": %s}' \
    "$t" "$status" "$elapsed" "${runs:-0}" "${cov:-null}" "${ft:-null}" "${corp:-null}" >> "$summary.tmp"
done
printf '\n]\n' >> "$summary.tmp"
mv "$summary.tmp" "$summary"
if [ $failed = 1 ]; then
  echo "fuzz: a target failed; its input is in fuzz/artifacts/TARGET/ (see the log)"
  exit 1
fi
