#!/usr/bin/env bash
# On the GPU machine: the CUDA tests, then the figures, in priority order, within a
# time budget; logs and JSON into one folder (at most 8 files: what the device tool
# brings back).
#
#   bash scripts/build_gpu_bundle.sh            # here, once: gpu_bundle/
#   bash scripts/gpu_check.sh OUT_DIR           # there (device tool: carry gpu_bundle)
#
# Steps, most important first; each gets what is left of BUDGET_S (default 480 s) and
# the script stops starting steps when the budget is spent:
#   1. nvidia-smi, `smalldata info --json` (must report CUDA)
#   2. tests/cuda.rs with TF32 off (NVIDIA_TF32_OVERRIDE=0), then as libtorch sets it
#   3. scripts/device_check.py, TF32 off: GAN, diffusion pretraining, both inversions,
#      fine-tuning on CPU and on CUDA agree within the tolerances fixed in the script
#   4. `smalldata bench study --sizes 10 --seeds 3` on CUDA, PyTorch on the same GPU
#   5. `smalldata bench augment` on CUDA batches beside torchvision v2 on CUDA
#   6. scripts/device_check.py with timing, TF32 as libtorch sets it: s/step CPU vs GPU
#   7. `smalldata finetune run` on CUDA: the transfer experiment's table
#
# GPU_CHECK_DEVICE=cpu is the dry run on a CPU machine: every step runs on the CPU
# (device_check compares cpu with cpu; the CUDA tests run their CPU harness), with the
# bundle from `build_gpu_bundle.sh --local`. TORCH_LIB overrides the libtorch found
# from PYTHON's torch; STUDY_STEPS (400) and the budget can be cut for a dry run.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-report/gpu_check}}
BUNDLE=${BUNDLE:-gpu_bundle}
BUDGET_S=${BUDGET_S:-480}
DEV=${GPU_CHECK_DEVICE:-cuda}
PYTHON=${PYTHON:-python3}
STUDY_STEPS=${STUDY_STEPS:-400}
BUNDLE=$(cd "$BUNDLE" 2>/dev/null && pwd) || { echo "no bundle folder: build it with scripts/build_gpu_bundle.sh" >&2; exit 1; }
BIN=$BUNDLE/smalldata
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d /tmp/gpu_check.XXXXXX)
LOG=$OUT/gpu_check.log
START=$(date +%s)
# committed files (pretrained checkpoints, the embedded data) are read from this checkout
export SMALLDATA_ASSETS=$PWD PYTHONUNBUFFERED=1

say() { echo "[$(($(date +%s) - START)) s] $*" | tee -a "$LOG"; }
left() { echo $((BUDGET_S - ($(date +%s) - START))); }

# step NAME CAP_S CMD...: run CMD with its output in WORK/NAME.log (its tail in the
# summary log), for at most CAP_S seconds and at most what is left of the budget.
step() {
  local name=$1 cap=$2
  shift 2
  local budget
  budget=$(left)
  if [ "$budget" -lt 20 ]; then
    say "SKIPPED $name: the budget is spent"
    return 0
  fi
  [ "$cap" -gt "$budget" ] && cap=$budget
  say "START $name (at most $cap s): $*"
  local t0=$(date +%s)
  timeout --kill-after=10 "$cap" "$@" > "$WORK/$name.log" 2>&1
  local rc=$?
  tail -n 40 "$WORK/$name.log" | sed 's/^/    /' >> "$LOG"
  case $rc in
    0) say "PASS $name ($(($(date +%s) - t0)) s)" ;;
    124|137) say "TIMEOUT $name after $(($(date +%s) - t0)) s" ;;
    *) say "FAIL $name (exit $rc, $(($(date +%s) - t0)) s)" ;;
  esac
  # the logs so far, in one file, after every step: a run cut short still returns them
  pack_logs
  return 0
}

# Text only (logs, JSON, CSV): checkpoints and pictures stay behind, so the archive
# stays well under what the device tool brings back (a few hundred kB).
pack_logs() {
  (cd "$WORK" && find . -type f \( -name '*.log' -o -name '*.json' -o -name '*.jsonl' -o -name '*.csv' -o -name '*.txt' \) -size -4M -print0 \
    | tar -czf "$OUT/logs.tar.gz" --null -T -) 2>/dev/null
}

: > "$LOG"
[ -x "$BIN" ] || { say "no $BIN: build it with scripts/build_gpu_bundle.sh"; exit 1; }
cat "$BUNDLE/BUILD.txt" >> "$LOG" 2>/dev/null
if [ -z "${TORCH_LIB:-}" ]; then
  TORCH_LIB=$("$PYTHON" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))') \
    || { say "$PYTHON has no torch: set TORCH_LIB"; exit 1; }
fi
export LD_LIBRARY_PATH=$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
say "device $DEV, libtorch from $TORCH_LIB, budget $BUDGET_S s, work $WORK"
{ nvidia-smi 2>&1 || echo "(no nvidia-smi)"; "$PYTHON" -c 'import torch; print("python torch", torch.__version__, "cuda", torch.cuda.is_available())'; } > "$WORK/env.log" 2>&1
cat "$WORK/env.log" >> "$LOG"

# 1. what the binary sees
SMALLDATA_DEVICE=$DEV "$BIN" info --json > "$OUT/info.json" 2>> "$LOG"
cat "$OUT/info.json" >> "$LOG"
if [ "$DEV" = cuda ] && ! grep -q '"cuda_available": true' "$OUT/info.json"; then
  say "FAIL info: the binary sees no CUDA device (the CUDA tests would only skip); stopping"
  exit 1
fi

# 2. the CUDA tests (on a CPU machine, their harness on the CPU)
test_env=()
[ "$DEV" = cpu ] && test_env=(env SMALLDATA_CUDA_TEST_DEVICE=cpu)
step cuda-tests-tf32-off 120 env NVIDIA_TF32_OVERRIDE=0 "${test_env[@]}" "$BUNDLE/cuda-tests" --test-threads=1 --nocapture
step cuda-tests-tf32-default 120 "${test_env[@]}" "$BUNDLE/cuda-tests" --test-threads=1 --nocapture

# 3. the long jobs agree across devices (TF32 off: the tighter tolerance)
step device-check-tf32-off 200 env NVIDIA_TF32_OVERRIDE=0 "$PYTHON" scripts/device_check.py --bin "$BIN" \
  --a cpu --b "$DEV" --no-timing --work "$WORK/device_check_off" --json "$OUT/device_check_tf32_off.json"

# 4. the default study, one size, beside PyTorch on the same device
step bench-study 200 env SMALLDATA_DEVICE=$DEV "$BIN" bench study --sizes 10 --seeds 3 --steps "$STUDY_STEPS" \
  --python "$PYTHON" --out "$WORK/bench-study.json"
cp "$WORK/bench-study.json" "$OUT/" 2>/dev/null

# 5. augmentation throughput beside torchvision v2
step bench-augment 120 env SMALLDATA_DEVICE=$DEV "$BIN" bench augment --python "$PYTHON" --out "$WORK/bench-augment.json"
cp "$WORK/bench-augment.json" "$OUT/" 2>/dev/null

# 6. seconds per step, CPU vs GPU (TF32 as libtorch leaves it: what a user gets)
step device-times 300 "$PYTHON" scripts/device_check.py --bin "$BIN" --a cpu --b "$DEV" \
  --work "$WORK/device_check_on" --json "$OUT/device_times.json"

# 7. the transfer experiment's table on the device
step finetune-run 240 env SMALLDATA_DEVICE=$DEV "$BIN" finetune run --jobs 1 --out "$WORK/finetune" --restart
cp "$WORK/finetune/summary.csv" "$OUT/finetune_summary.csv" 2>/dev/null

say "done in $(($(date +%s) - START)) s; summary: $LOG"
grep -E "^\[[0-9]+ s\] (PASS|FAIL|TIMEOUT|SKIPPED)" "$LOG"
pack_logs
! grep -qE "^\[[0-9]+ s\] (FAIL|TIMEOUT)" "$LOG"
