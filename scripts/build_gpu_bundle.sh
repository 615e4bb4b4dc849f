#!/usr/bin/env bash
# Build what the GPU machine runs, here, on the CPU machine: the `smalldata` binary and
# the CUDA test binary (tests/cuda.rs), linked against the libtorch of the GPU
# machine's PyTorch (2.11.0+cu130), stripped, into gpu_bundle/ (ignored by git; the
# device tool carries it). DESIGN.md, "Building for a GPU machine", gives the recipe:
#   1. the PyPI wheel torch==2.11.0 *is* the GPU machine's build; unzip its libtorch;
#   2. build a copy of the working tree with tch/torch-sys 0.24 (the tch release for
#      libtorch 2.11) against it;
#   3. strip; the GPU machine's own libtorch is found through LD_LIBRARY_PATH there
#      (scripts/gpu_check.sh sets it from its python3's torch).
#
#   bash scripts/build_gpu_bundle.sh            # the real bundle (about 530 MB download once)
#   bash scripts/build_gpu_bundle.sh --local    # this checkout's normal build, for a dry
#                                               # run of gpu_check.sh on this CPU machine
# SCRATCH (default /tmp/smalldata-gpu-build) keeps the wheel and the build between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUNDLE=${BUNDLE:-$ROOT/gpu_bundle}
SCRATCH=${SCRATCH:-/tmp/smalldata-gpu-build}
TORCH_VERSION=2.11.0
TCH_VERSION=0.24
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}

# The path of the test binary `cargo test --no-run --test cuda` built (from cargo's JSON).
cuda_test_binary() {
  "$@" --message-format=json 2>/dev/null | "$PYTHON" -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "cuda" and m.get("executable"):
        print(m["executable"])'
}

rm -rf "$BUNDLE"
mkdir -p "$BUNDLE"
if [ "${1:-}" = "--local" ]; then
  cargo build --release --bin smalldata
  cp target/release/smalldata "$BUNDLE/smalldata"
  cp "$(cuda_test_binary cargo test --release --test cuda --no-run)" "$BUNDLE/cuda-tests"
  echo "local build (libtorch of .venv), for a dry run on this machine" > "$BUNDLE/BUILD.txt"
else
  TORCH="$SCRATCH/torch"
  if [ ! -f "$TORCH/lib/libtorch_cpu.so" ]; then
    echo "build_gpu_bundle: downloading the torch==$TORCH_VERSION wheel (about 530 MB)"
    mkdir -p "$SCRATCH/wheel"
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: "torch==$TORCH_VERSION" -d "$SCRATCH/wheel"
    wheel=$(ls "$SCRATCH"/wheel/torch-"$TORCH_VERSION"-*.whl | head -1)
    (cd "$SCRATCH" && unzip -q -o "$wheel" 'torch/lib/*' 'torch/include/*' 'torch/share/*' 'torch/version.py')
  fi
  grep -q "__version__ = '$TORCH_VERSION" "$TORCH/version.py" || { echo "build_gpu_bundle: $TORCH/version.py is not torch $TORCH_VERSION" >&2; exit 1; }

  # the working tree as it is (committed or not), without ignored files
  rm -rf "$SCRATCH/crate"
  mkdir -p "$SCRATCH/crate"
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -xf - -C "$SCRATCH/crate"
  cd "$SCRATCH/crate"
  sed -i -E "s/^tch = \"[0-9.]+\"/tch = \"$TCH_VERSION\"/; s/^torch-sys = \"[0-9.]+\"/torch-sys = \"$TCH_VERSION\"/" Cargo.toml
  grep -q "^tch = \"$TCH_VERSION\"" Cargo.toml && grep -q "^torch-sys = \"$TCH_VERSION\"" Cargo.toml \
    || { echo "build_gpu_bundle: could not set tch/torch-sys $TCH_VERSION in Cargo.toml" >&2; exit 1; }
  sed -i '/^LIBTORCH/d' .cargo/config.toml
  export LIBTORCH="$TORCH" CARGO_TARGET_DIR="$SCRATCH/target"
  cargo build --release --bin smalldata
  cp "$CARGO_TARGET_DIR/release/smalldata" "$BUNDLE/smalldata"
  cp "$(cuda_test_binary cargo test --release --test cuda --no-run)" "$BUNDLE/cuda-tests"
  cd "$ROOT"
  {
    echo "smalldata $(git describe --always --dirty) built $(date -u +%FT%TZ) on $(uname -m)"
    echo "libtorch: torch==$TORCH_VERSION wheel ($("$PYTHON" -c "exec(open('$TORCH/version.py').read()); print(__version__, 'CUDA', cuda)"))"
    echo "tch/torch-sys $TCH_VERSION"
  } > "$BUNDLE/BUILD.txt"
fi
strip "$BUNDLE/smalldata" "$BUNDLE/cuda-tests"
if [ "${1:-}" != "--local" ]; then
  # Here only CUDA's own libraries may be missing: on the GPU machine they come with
  # its PyTorch (the nvidia-* packages, found through libtorch_cuda.so's rpath).
  missing=$(LD_LIBRARY_PATH="$SCRATCH/torch/lib" ldd "$BUNDLE/smalldata" | awk '/not found/ {print $1}' | sort -u)
  echo "not found here, expected from the GPU machine's nvidia packages:" $missing
  other=$(echo "$missing" | grep -vE '^lib(cu|nccl|nvshmem|nvrtc|nvJitLink|nvToolsExt)' || true)
  [ -z "$other" ] || { echo "build_gpu_bundle: libraries missing that are not CUDA's: $other" >&2; exit 1; }
fi
ls -la "$BUNDLE"
du -sh "$BUNDLE"
