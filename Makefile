# smalldata: two commands do everything on a fresh machine.
#   make demo   set up if needed, then run the main job on the embedded data
#   make test   set up if needed, then run the Rust tests and execute the notebooks
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT          := $(CURDIR)
VENV          := $(ROOT)/.venv
PYTHON        ?= python3
EVCXR_VERSION := 0.22.0
CARGO_BIN     := $(HOME)/.cargo/bin
TORCH_LIB     := $(VENV)/torch/lib

# The Python packages are reinstalled whenever scripts/requirements.txt changes.
PY_STAMP      := $(VENV)/.requirements-installed
EVCXR_STAMP   := $(VENV)/.evcxr-$(EVCXR_VERSION)
DATA_STAMP    := $(VENV)/.datasets-checked

# Environment for the evcxr kernel. evcxr sets RUSTFLAGS itself (to -Cprefer-dynamic),
# and build scripts cannot add link arguments to the cdylib evcxr builds per cell, so
# CARGO_ENCODED_RUSTFLAGS (which cargo prefers over RUSTFLAGS) carries -Cprefer-dynamic
# plus the rpath to libtorch and --no-as-needed -ltorch (which keeps libtorch_cuda).
SEP := $(shell printf '\037')
NB_RUSTFLAGS := -Cprefer-dynamic$(SEP)-Clink-arg=-Wl,-rpath,$(TORCH_LIB)$(SEP)-Clink-arg=-Wl,--no-as-needed$(SEP)-Clink-arg=-L$(TORCH_LIB)$(SEP)-Clink-arg=-ltorch
NB_ENV := PATH="$(VENV)/bin:$(CARGO_BIN):$$PATH" LIBTORCH="$(VENV)/torch" EVCXR_TMPDIR="$(ROOT)/.evcxr" CARGO_ENCODED_RUSTFLAGS='$(NB_RUSTFLAGS)'

.PHONY: help setup setup-rust demo screenshot test test-rust test-notebooks notebooks-refresh notebook info bench-metrics bench-augment bench-study bench-tabular bench-vit-lora tabular clean-setup fuzz kill-loop large-folder

help:
	@echo "make demo            run the main job: advise on the default data (10 minutes)"
	@echo "make screenshot      render report/advise/index.html to a PNG with headless Chromium"
	@echo "make test            run every test (Rust tests, then the notebooks)"
	@echo "make setup           install what the two above need (idempotent)"
	@echo "make notebook        start Jupyter with the Rust kernel set up for smalldata"
	@echo "make test-rust | test-notebooks   one half of make test"
	@echo "make bench-metrics   our metrics beside scikit-learn's, as speed ratios"
	@echo "make bench-augment   crop/rotate/noise images/s beside torchvision and albumentations"
	@echo "make bench-study     the default study beside the same protocol in PyTorch (about 25 min)"
	@echo "make bench-tabular   linear-model fit times beside scikit-learn"
	@echo "make bench-vit-lora  a ViT-B/16 LoRA training step beside transformers + peft"
	@echo "make tabular         the regression study on diabetes (report/tabular)"
	@echo "make fuzz            fuzz every file reader, FUZZ_SECONDS each (default 60; needs nightly)"
	@echo "make kill-loop       kill every long job at random moments KILLS times (default 3) and check the results"
	@echo "make large-folder    peak memory reading 10,000 photos of 256x256 at 64x64"

# setup-rust is what the Rust side needs (libtorch, the Python peers, the data);
# setup adds the notebook kernel (evcxr, about 8 minutes the first time), which only
# the notebook targets wait for.
setup: setup-rust $(EVCXR_STAMP)
setup-rust: $(PY_STAMP) $(VENV)/torch $(DATA_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv "$(VENV)"
	"$(VENV)/bin/python" -m pip install -q --upgrade pip

$(PY_STAMP): scripts/requirements.txt | $(VENV)/bin/python
	@echo "setup: installing Python packages (PyTorch 2.13.0 wheel is ~5 GB the first time)"
	"$(VENV)/bin/python" -m pip install -q --progress-bar off -r scripts/requirements.txt
	touch "$@"

# torch-sys finds libtorch through .cargo/config.toml's LIBTORCH = .venv/torch.
$(VENV)/torch: | $(PY_STAMP)
	ln -sfn "$$("$(VENV)/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')" "$@"

$(EVCXR_STAMP): $(PY_STAMP)
	@if ! cargo install --list | grep -qx "evcxr_jupyter v$(EVCXR_VERSION):"; then \
	  echo "setup: cargo install evcxr_jupyter $(EVCXR_VERSION) (about 8 minutes on 2 cores)"; \
	  cargo install --locked --quiet evcxr_jupyter --version $(EVCXR_VERSION); \
	fi
	PATH="$(VENV)/bin:$$PATH" "$(CARGO_BIN)/evcxr_jupyter" --install >/dev/null
	touch "$@"

# Debian's dataset-fashion-mnist gives the full 70,000 images; without apt (or root)
# the embedded subset is used and this step only says so.
$(DATA_STAMP):
	@if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "setup: apt-get install dataset-fashion-mnist"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
	    || echo "setup: could not install dataset-fashion-mnist; the embedded subset will be used"; \
	else echo "setup: no apt-get as root; Fashion-MNIST falls back to the embedded subset"; fi
	mkdir -p "$(VENV)" && touch "$@"

demo: setup-rust
	cargo run --release --quiet -- demo

# Look at the advise page as a person does: headless Chromium renders it to a PNG.
# REPORT=folder of an advise run (default: the demo's).
REPORT ?= report/advise
screenshot:
	@command -v chromium >/dev/null || { echo "screenshot: needs chromium (apt-get install chromium)"; exit 1; }
	chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
	  --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$$(mktemp -d)" --window-size=1300,5200 \
	  --screenshot="$(ROOT)/$(REPORT)/screenshot.png" "file://$(ROOT)/$(REPORT)/index.html" 2>/dev/null
	@echo "screenshot: $(REPORT)/screenshot.png"

info: setup-rust
	cargo run --release --quiet -- info

test: test-rust test-notebooks

test-rust: setup-rust
	cargo test --all-targets --no-fail-fast
	cargo test --doc
	$(MAKE) kill-loop KILL_BIN=target/debug/smalldata KILL_JOBS=$(CI_KILL_JOBS)

# Reliability (the README's section of that name). kill-loop runs in make test with
# the debug build the tests made; the figures in the README come from KILLS=20.
FUZZ_SECONDS ?= 60
KILLS ?= 3
KILL_BIN ?= target/release/smalldata
KILL_JOBS ?= all
# make test kills every long job, the GAN included: its rare divergence (the first MKL
# tanh of a process; README, Reliability) is gone since the generator writes tanh as
# 2σ(2x) − 1.
CI_KILL_JOBS := all
fuzz: setup-rust
	scripts/fuzz.sh $(FUZZ_SECONDS)

kill-loop: setup-rust
	@[ -x "$(KILL_BIN)" ] || cargo build --release
	"$(VENV)/bin/python" scripts/kill_loop.py --kills $(KILLS) --bin $(KILL_BIN) --jobs $(KILL_JOBS) --json report/kill_loop.json

large-folder: setup-rust
	cargo build --release
	"$(VENV)/bin/python" scripts/large_folder.py --json report/large_folder.json

# The runner must report the broken notebooks as failed (a cell that does not compile;
# a chart printed as Debug text; prose citing a result no cell printed; a method
# notebook without its "On a GPU" section; a cell that fails through `?`, which evcxr
# only prints): proof that
# the checks can fail. Then
# the notebooks written by scripts/notebooks/make_*.py must hold the cells their script
# makes (no hand edit the next write would lose), and every notebook in notebooks/
# must run cleanly and show its charts as images.
test-notebooks: setup
	$(NB_ENV) "$(VENV)/bin/python" scripts/run_notebooks.py --expect-fail tests/notebooks/broken_cell.ipynb tests/notebooks/debug_figure.ipynb tests/notebooks/uncited_result.ipynb tests/notebooks/missing_gpu_section.ipynb tests/notebooks/early_return.ipynb
	cd scripts/notebooks && for s in make_*.py; do "$(VENV)/bin/python" $$s --check || exit 1; done
	$(NB_ENV) "$(VENV)/bin/python" scripts/run_notebooks.py

# Re-execute the notebooks and save their outputs into the committed copies.
notebooks-refresh: setup
	$(NB_ENV) "$(VENV)/bin/python" scripts/run_notebooks.py --write

notebook: setup
	$(NB_ENV) "$(VENV)/bin/jupyter" notebook --notebook-dir="$(ROOT)/notebooks"

# Benchmarks: commands that run our code and the peers in one go and print ratios.
bench-metrics: setup-rust
	cargo run --release --quiet --example bench_metrics

bench-augment: setup-rust
	cargo run --release --quiet -- bench augment --out report/bench-augment.json

bench-tabular: setup-rust
	cargo run --release --quiet -- bench tabular --out report/bench-tabular.json

tabular: setup-rust
	cargo run --release --quiet -- tabular --dataset diabetes --out report/tabular

bench-vit-lora: setup-rust
	cargo run --release --quiet -- bench vit-lora --batch 8 --steps 5 --out report/bench-vit-lora.json

bench-study: setup-rust
	cargo run --release --quiet -- bench study --out report/bench-study.json

clean-setup:
	rm -rf "$(VENV)" "$(ROOT)/.evcxr"

# Execute (and save) one notebook: make notebook-run NB=notebooks/03_augmentation_search.ipynb
notebook-run: setup
	$(NB_ENV) "$(VENV)/bin/python" scripts/run_notebooks.py --write $(NB)
