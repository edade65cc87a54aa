# Hearth's two commands are `make run` and `make test`; both install what is missing first.
# Everything else here is a step they share, or a tool for the people working on Hearth.

SHELL := /bin/bash
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)
# The app's tests run in dev profile, with llama.cpp and the few dependencies on a hot path optimised
# (see Cargo.toml): quick to build, and llama.cpp still runs at full speed.
APP := target/debug/hearth-app
CLI := target/debug/hearth
UI_SOURCES := $(shell find ui/src ui/public -type f 2>/dev/null) ui/index.html ui/vite.config.ts ui/package-lock.json

.PHONY: run test deps deps-test ui build test-rust test-cpu-variant test-docs test-ui test-e2e test-fuzz-api fuzz-api fuzz bindings icons package check-package bench test-model clean-ui backend-cuda backend-rocm backend-blas

## make run: build everything and open the Hearth window.
run: deps build
	$(APP)

## make test: every test — Rust unit and integration tests, the UI's Vitest suite and type check, and the
## end-to-end test that drives the real window under Xvfb.
test: deps-test build test-model
	$(MAKE) test-docs test-cpu-variant test-rust test-ui test-e2e test-fuzz-api
	@echo "make test: all suites passed"

deps:
	@src-tauri/scripts/install-deps.sh

deps-test:
	@src-tauri/scripts/install-deps.sh --for-tests

test-model:
	@tests/setup/fetch-test-model.sh >/dev/null
	@tests/setup/python-venv.sh >/dev/null
	@tests/setup/mcp-servers.sh >/dev/null

ui: ui/dist/index.html

ui/dist/index.html: $(UI_SOURCES)
	cd ui && npm run build

# The app embeds ui/dist at compile time, so the UI is built first.
build: ui
	$(CARGO) build -p hearth-app -p hearth-cli -p hearth-mockhub
	@for d in target/debug target/debug/deps target/debug/examples; do src-tauri/scripts/collect-engine-libs.sh target/debug $$d; done

test-rust:
	$(CARGO) test --workspace

## make test-cpu-variant: the engine's generation tests again on another build of llama.cpp's CPU
## backend, the baseline x86-64 one (SSE2 only), beside this machine's own: results that hold on one
## CPU's kernels and not on another's show on every machine, not only on the newest CPU. It runs
## before test-rust, whose CPU-trap test (runtime/tests/cpu_trap.rs) needs the baseline build too.
# `--workspace --test generation`, not `-p hearth-engine`: the same feature resolution as test-rust,
# so llama.cpp is not built again.
CPU_VARIANT := x64
test-cpu-variant:
	src-tauri/scripts/build-backend.sh cpu-$(CPU_VARIANT) >/dev/null
	HEARTH_BACKENDS_DIR=$(CURDIR)/target/cpu-variants/$(CPU_VARIANT) $(CARGO) test --workspace --test generation

## make test-docs: the crate map in docs/ARCHITECTURE.md is the one `cargo metadata` gives
## (`python3 docs/crate-map.py` regenerates it), and errors cross crates as values (docs/error-text.py).
test-docs:
	python3 docs/crate-map.py --check
	python3 docs/error-text.py

test-ui:
	cd ui && npm run check && npm test

test-e2e: build
	node --test --test-concurrency=1 tests/e2e/

## make test-fuzz-api: the short run of fuzz-api that `make test` ends with (5 examples per
## operation, about 40 s here).
test-fuzz-api: build
	EXAMPLES=5 tests/fuzz/api.sh

## make fuzz-api: Schemathesis against the real server from its /openapi.json (EXAMPLES=N per
## operation, default 20): no 5xx, no answer outside the description, no worker restart.
fuzz-api: deps-test build test-model
	tests/fuzz/api.sh

## make fuzz: every cargo-fuzz target (the GGUF reader, the schema check, the tool-call parser, the
## chat-template renderer) for FUZZ_SECONDS each (default 120), from its committed corpus: a crash
## fails it and leaves the input in the crate's fuzz/artifacts. libFuzzer needs nightly flags:
## RUSTC_BOOTSTRAP lets the stable toolchain take them.
FUZZ_SECONDS ?= 120
FUZZ_TARGETS := gguf:parse_header schema:check_schema prompt:parse_tool_calls prompt:render_template
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	@set -o pipefail; for t in $(FUZZ_TARGETS); do \
	  echo "fuzz: $${t%%:*} $${t##*:} for $(FUZZ_SECONDS) s"; \
	  (cd src-tauri/crates/$${t%%:*} && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $${t##*:} -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 2>&1 | tail -n 3) || exit 1; \
	done

## make bindings: regenerate ui/src/lib/api/bindings.ts from the Rust types (a test fails when stale).
bindings:
	$(CARGO) run -q -p hearth-app --example export-bindings

## make icons: regenerate the icon set from icons/hearth.svg.
icons: deps
	cd ui && npx tauri icon ../icons/hearth.svg -o ../src-tauri/icons
	rm -rf src-tauri/icons/android src-tauri/icons/ios
	cp icons/hearth.svg ui/public/hearth.svg

## make package: a release build and a .deb in target/release/bundle/deb/, with the `hearth` CLI in
## /usr/bin beside the app (on macOS and Windows, `ui/node_modules/.bin/tauri build` there makes the
## .app/.dmg or .msi, without the CLI yet).
# A package carries all of llama.cpp's CPU backend variants, where every other build has one for
# this machine (src-tauri/cmake/one-cpu-backend.cmake says why).
package check-package: export CMAKE_PROJECT_INCLUDE := $(CURDIR)/src-tauri/cmake/all-cpu-backends.cmake
package: deps ui
	$(CARGO) build --release -p hearth-cli -p hearth-app
	src-tauri/scripts/collect-engine-libs.sh --backends target/release target/release/hearth-libs
	ui/node_modules/.bin/tauri build --bundles deb

## make check-package: the tests only a package's build can pass: ggml picks the right one of the
## CPU backend's variants for an older CPU (run as a Nehalem under qemu-user). Not in `make test`:
## building the fourteen variants takes about half an hour on 2 cores (a few minutes after
## `make package`, whose build it reuses).
# The same packages as `make package` (plus the engine, for its test), so that cargo resolves the same
# features for llama.cpp's build dependencies and reuses the package's llama.cpp build: `-p
# hearth-engine` alone differs (cc's "parallel" feature, among others) and builds llama.cpp again.
check-package: deps-test test-model
	$(CARGO) test --release -p hearth-cli -p hearth-app -p hearth-engine --test cpu_variant -- --include-ignored

## make backend-cuda, make backend-rocm: where the CUDA toolkit (or ROCm) is installed, build llama.cpp's
## CUDA (or ROCm) backend from the engine's own llama.cpp sources and drop it beside the backends this
## tree's builds load, or into DEST (e.g. `make backend-cuda DEST=/usr/lib/hearth` for the installed
## .deb). The app is not rebuilt: it loads the backend when it next starts. `make backend-blas` does
## the same with OpenBLAS, which builds anywhere (the drop-in's own check).
backend-cuda backend-rocm backend-blas:
	src-tauri/scripts/build-backend.sh $(@:backend-%=%) $(DEST)

## make bench: how long `hearth probe` takes, the app's time to first paint and idle memory, how
## fast the fit planner plans 10,000 files, and Hearth's download speed against curl's from the mock Hub
## (1 GiB on loopback, also throttled to 20 MB/s per connection; target/bench/download.json), the
## engine against llama-bench (speed) and llama-server (memory per kind, tests/bench/memory.sh), the
## plans of two vision models with their projectors, and a picture's encoding against llama.cpp's
## llama-mtmd-cli (tests/bench/mtmd.sh), and how fast a 500-page PDF is read.
bench: deps-test build
	node tests/bench/startup.mjs
	node tests/bench/ui_stream.mjs
	$(CARGO) run -q -p hearth-fit --example plan_10k
	$(CARGO) run -q -p hearth-fit --example speed_prediction
	$(CARGO) run -q -p hearth-hardware --example bandwidth_under_load
	$(CARGO) run -q -p hearth-hub --example download_bench
	tests/bench/llama_bench.sh
	tests/bench/memory.sh
	tests/bench/concurrency.sh
	python3 tests/bench/constrained.py
	$(CARGO) run -q -p hearth-fit --example vision_plans
	tests/bench/mtmd.sh
	$(CARGO) run -q -p hearth-documents --example read_bench
	$(CARGO) run -q -p hearth-cli -- bench $${HEARTH_TEST_MODELS:-$$HOME/.cache/hearth/test-models}/SmolLM2-135M-Instruct.Q4_1.gguf -p 0 -n 0 --conversation

clean-ui:
	rm -rf ui/dist
