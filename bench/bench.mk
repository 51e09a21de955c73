# `make bench` (issue 4): native and browser benchmarks, peers in the same run, one table.
# Included from the top-level Makefile (`include bench/bench.mk`, and `bench: bench-all`); it relies on that
# Makefile's `wasm`, `assets` and `toolchain` targets. Results go to bench/out/ (git-ignored), the table to
# stdout and bench/out/report.txt. BENCH_RUNS / BENCH_VIZ_RUNS set the timed runs (default 10 each),
# BENCH_COMPARE_RUNS the page compare view's (default 5); the ViT-B/16 rows (issue 24): BENCH_VIT_RUNS per round and
# BENCH_VIT_ROUNDS in the page (default 3 and 2), BENCH_VIT_NATIVE_RUNS natively (default 5).

BENCH_OUT := bench/out
BENCH_RUNS ?= 10
BENCH_VIZ_RUNS ?= 10
BENCH_COMPARE_RUNS ?= 5
BENCH_VIT_RUNS ?= 3
BENCH_VIT_ROUNDS ?= 2
BENCH_VIT_NATIVE_RUNS ?= 5
BENCH_VENV := bench/.venv
# The Makefile that includes this one, for the recursive calls that keep going when one part fails.
BENCH_TOP := $(firstword $(MAKEFILE_LIST))

.PHONY: bench-all bench-deps bench-native bench-browser bench-report bench-trust bench-memory bench-batch bench-vit-model

# The ViT-B/16 (346 MB, torchvision's vit_b_16 with seeded random weights, bench/vit_model.py; git-ignored): built
# once, for the memory rows (bench-memory) and the speed rows (bench-all: native and page, issue 24).
VIT_MODEL := assets/test-models/vit_b_16.onnx
$(VIT_MODEL):
	@mkdir -p $(dir $@)
	@if [ ! -x $(BENCH_VENV)/bin/python ] || ! $(BENCH_VENV)/bin/python -c 'import onnx' 2>/dev/null; then \
		python3 -m venv $(BENCH_VENV) && $(BENCH_VENV)/bin/pip install -q -r bench/requirements.txt; fi
	@$(BENCH_VENV)/bin/python -c 'import torch, torchvision' 2>/dev/null \
		|| $(BENCH_VENV)/bin/pip install -q -r bench/requirements-torch.txt
	$(BENCH_VENV)/bin/python bench/vit_model.py $@.partial && mv $@.partial $@
bench-vit-model: $(VIT_MODEL)

bench-all: bench-deps wasm assets cli
	@mkdir -p $(BENCH_OUT); status=0; \
	$(MAKE) --no-print-directory -f $(BENCH_TOP) bench-vit-model \
		|| echo "make bench: no $(VIT_MODEL); the ViT-B/16 rows will say 'not run'" >&2; \
	$(MAKE) --no-print-directory -f $(BENCH_TOP) bench-native || status=1; \
	$(MAKE) --no-print-directory -f $(BENCH_TOP) bench-browser || status=1; \
	$(MAKE) --no-print-directory -f $(BENCH_TOP) bench-report; \
	if [ $$status -ne 0 ]; then echo "make bench: a part failed (see above; its rows say so)" >&2; fi; \
	exit $$status

# The peers' npm packages, TF.js bundled with its gradients, and a venv with the native onnxruntime peer.
bench-deps:
	@if [ ! -d node_modules/onnxruntime-web ] || [ ! -d node_modules/esbuild ] || [ ! -d node_modules/playwright-core ]; then \
		npm ci --no-audit --no-fund; fi
	@mkdir -p $(BENCH_OUT)
	node_modules/.bin/esbuild bench/tfjs-entry.js --bundle --format=esm --minify --platform=browser \
		--log-level=warning --outfile=$(BENCH_OUT)/tfjs.js
	@if [ ! -x $(BENCH_VENV)/bin/python ] || ! $(BENCH_VENV)/bin/python -c 'import onnxruntime, numpy' 2>/dev/null; then \
		python3 -m venv $(BENCH_VENV) && $(BENCH_VENV)/bin/pip install -q -r bench/requirements.txt \
		|| echo "bench: no venv for the native onnxruntime peer; its rows will say 'not run'" >&2; fi
	@if [ -x $(BENCH_VENV)/bin/python ] && ! $(BENCH_VENV)/bin/python -c 'import torch, onnx' 2>/dev/null; then \
		$(BENCH_VENV)/bin/pip install -q -r bench/requirements-torch.txt \
		|| echo "bench: PyTorch did not install; the CLI class-visualization rows will say 'not run'" >&2; fi

# The native rows. The ViT-B/16's (issue 24): netlens's last in `cargo bench --bench engine` (NETLENS_BENCH_VIT;
# it writes its logits), then at once its onnxruntime peer (bench/native_vit_peer.py), checked against those logits.
bench-native:
	@mkdir -p $(BENCH_OUT)
	@rm -f $(BENCH_OUT)/native.txt $(BENCH_OUT)/native_peers.json
	@if [ -x $(BENCH_VENV)/bin/python ]; then \
		BENCH_RUNS=$(BENCH_RUNS) $(BENCH_VENV)/bin/python bench/native_peers.py > $(BENCH_OUT)/native_peers.json.partial \
		&& mv $(BENCH_OUT)/native_peers.json.partial $(BENCH_OUT)/native_peers.json; fi
	@rm -f $(BENCH_OUT)/pytorch_classviz.json
	@if [ -x $(BENCH_VENV)/bin/python ] && $(BENCH_VENV)/bin/python -c 'import torch, onnx' 2>/dev/null; then \
		BENCH_VIZ_RUNS=$(BENCH_VIZ_RUNS) $(BENCH_VENV)/bin/python bench/pytorch_classviz.py > $(BENCH_OUT)/pytorch_classviz.json.partial \
		&& mv $(BENCH_OUT)/pytorch_classviz.json.partial $(BENCH_OUT)/pytorch_classviz.json; fi
	@rm -f $(BENCH_OUT)/vit_netlens_logits.json $(BENCH_OUT)/native_vit_peer.json
	NETLENS_BENCH_VIT=$(VIT_MODEL) NETLENS_BENCH_VIT_LOGITS=$(BENCH_OUT)/vit_netlens_logits.json \
		NETLENS_BENCH_VIT_RUNS=$(BENCH_VIT_NATIVE_RUNS) \
		cargo bench --bench engine > $(BENCH_OUT)/native.txt.partial && mv $(BENCH_OUT)/native.txt.partial $(BENCH_OUT)/native.txt
	@if [ -x $(BENCH_VENV)/bin/python ] && [ -f $(VIT_MODEL) ]; then \
		BENCH_VIT_NATIVE_RUNS=$(BENCH_VIT_NATIVE_RUNS) $(BENCH_VENV)/bin/python bench/native_vit_peer.py $(VIT_MODEL) \
			$(BENCH_OUT)/vit_netlens_logits.json > $(BENCH_OUT)/native_vit_peer.json.partial \
		&& mv $(BENCH_OUT)/native_vit_peer.json.partial $(BENCH_OUT)/native_vit_peer.json; fi

bench-browser:
	@rm -f $(BENCH_OUT)/browser.json
	node bench/run-browser.mjs --runs $(BENCH_RUNS) --viz-runs $(BENCH_VIZ_RUNS) --compare-runs $(BENCH_COMPARE_RUNS) \
		--vit-runs $(BENCH_VIT_RUNS) --vit-rounds $(BENCH_VIT_ROUNDS) --out $(BENCH_OUT)/browser.json

bench-report:
	@node bench/report.mjs $(BENCH_OUT) | tee $(BENCH_OUT)/report.txt

# Issue 8's page timings (deletion/insertion for every method; the full cascading randomization), button → result.
bench-trust: wasm assets node-deps
	node bench/trust-page.mjs

# The memory rows (issues 11 and 24): a ~105 MB model (SqueezeNet + a 100 MB MatMul, bench/big_model.py) and a
# ViT-B/16 (346 MB, torchvision's with random weights, bench/vit_model.py) in the page, both builds.
BIG_MODEL := assets/test-models/big100.onnx
bench-memory: wasm assets node-deps $(VIT_MODEL)
	@if [ ! -x $(BENCH_VENV)/bin/python ] || ! $(BENCH_VENV)/bin/python -c 'import onnx' 2>/dev/null; then \
		python3 -m venv $(BENCH_VENV) && $(BENCH_VENV)/bin/pip install -q -r bench/requirements.txt; fi
	@mkdir -p $(dir $(BIG_MODEL))
	@[ -f $(BIG_MODEL) ] || $(BENCH_VENV)/bin/python bench/big_model.py assets/models/squeezenet1_1.onnx $(BIG_MODEL)
	node bench/big-model-page.mjs

# Issue 30 (not part of bench-all): a 200-image folder through `netlens batch`, PyTorch + Captum and Ray with 1 and 2
# workers, one thread each; the table goes to stdout and bench/out/batch.txt (docs/scale.md).
bench-batch: cli wheel
	@mkdir -p $(BENCH_OUT)
	@if [ ! -x $(BENCH_VENV)/bin/python ]; then python3 -m venv $(BENCH_VENV); fi
	@if ! $(BENCH_VENV)/bin/python -c 'import torch, onnx, captum, ray, PIL' 2>/dev/null; then \
		$(BENCH_VENV)/bin/pip install -q -r bench/requirements-torch.txt -r bench/requirements-batch.txt; fi
	$(BENCH_VENV)/bin/pip install -q --force-reinstall --no-deps $$(ls -t target/wheels/netlens-*-abi3-*.whl | head -1)
	NETLENS_BIN=$(CURDIR)/target/release/netlens BENCH_OUT=$(BENCH_OUT) $(BENCH_VENV)/bin/python bench/batch_bench.py \
		| tee $(BENCH_OUT)/batch.txt
