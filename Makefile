# One entry point for people and CI. Every target sets itself up from nothing:
# a .venv, the Python dependencies and the Rust extension (built by maturin).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.deps-stamp
BUILD_STAMP := $(VENV)/.build-stamp
RUST_SOURCES := $(shell find router_core/src router_py/src -name '*.rs' 2>/dev/null) Cargo.toml router_core/Cargo.toml router_py/Cargo.toml

.PHONY: setup build demo test test-rust test-python lint bench bench-rust chaos clean browsers screenshots fuzz fuzz-coverage soak soak-short

setup: $(BUILD_STAMP)

# pyproject.toml lists the dependencies (tools/requirements.py prints them for pip);
# requirements.lock pins each to the version CI was green with.
# Each step says what it does: the first setup takes a few minutes (the Rust build most).
$(STAMP): pyproject.toml requirements.lock tools/requirements.py
	@echo "setup 1/3: a virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo "setup 2/3: Python dependencies, pinned by requirements.lock (about a minute)"
	$(PY) -m pip install --quiet "$$(grep '^pip==' requirements.lock)"
	$(PY) tools/requirements.py dev > $(VENV)/requirements.txt
	$(PY) -m pip install --progress-bar on -r $(VENV)/requirements.txt -c requirements.lock
	touch $(STAMP)

# maturin develop builds the release extension and installs ccroute editable into the venv;
# cargo prints each crate it compiles (a first build takes 2-3 minutes).
$(BUILD_STAMP): $(STAMP) $(RUST_SOURCES)
	@echo "setup 3/3: the Rust routing core (release build, about 2-3 minutes the first time)"
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/maturin develop --release
	touch $(BUILD_STAMP)

build: $(BUILD_STAMP)

demo: setup
	$(VENV)/bin/ccroute demo --out reports

test: setup browsers test-rust test-python

# The browser tests drive Debian's chromium through Playwright (never a downloaded
# browser). Installed here when missing and we may (root with apt); otherwise the browser
# tests skip and say why.
CHROMIUM ?= /usr/bin/chromium
browsers:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || \
		echo "chromium could not be installed: the browser tests will skip"; \
	else echo "no $(CHROMIUM) and no root/apt to install it: the browser tests will skip"; fi

# docs/screenshots/*.png: the agent desktop and the wallboard, from a real service.
screenshots: setup browsers
	$(PY) tools/web_screenshots.py docs/screenshots

test-rust:
	cargo test --package router_core --quiet

test-python: setup
	$(PY) -m pytest -q -p no:cacheprovider --benchmark-disable

lint: setup
	$(VENV)/bin/ruff check python tests benchmarks tools
	$(VENV)/bin/ruff format --check python tests benchmarks tools
	$(VENV)/bin/mypy
	cargo clippy --workspace --all-targets -- -D warnings

bench: setup
	cargo bench --package router_core --quiet
	$(PY) -m pytest benchmarks -q -p no:cacheprovider --benchmark-only --benchmark-columns=min,mean,ops,rounds

# Hostile inputs (deep nesting, huge fields, truncation, trailing bytes, wrong types, random
# bytes; generated and mutated) through the engine's byte entry points for FUZZ_SECONDS:
# prints the count, the crashes and the rejections by reason, and fails on any crash, any
# rejection without a specific reason or fewer than FUZZ_MIN_INPUTS inputs. Then the
# Python entry points' property tests. A short run of both is part of `make test`.
FUZZ_SECONDS ?= 60
FUZZ_MIN_INPUTS ?= 1000000
FUZZ_SEED ?= 1
fuzz: setup
	cargo run --release --quiet --example fuzz_codec -p router_core -- --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED) --min-inputs $(FUZZ_MIN_INPUTS)
	$(PY) -m pytest -q -p no:cacheprovider --benchmark-disable tests/test_fuzz_entry_points.py tests/test_hostile_input.py

# Coverage-guided: libFuzzer on the same entry points (router_core/fuzz), for
# FUZZ_SECONDS, its corpus kept in target/fuzz-corpus, a crashing input in target/fuzz-crashes. Needs the nightly toolchain (the
# sanitizer-coverage flags cargo-fuzz would set; no cargo-fuzz needed).
FUZZ_FLAGS := -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
	-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
	-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing
FUZZ_TARGET := $(shell rustc -vV | sed -n 's/^host: //p')
fuzz-coverage:
	cd router_core/fuzz && RUSTFLAGS="$(FUZZ_FLAGS)" cargo +nightly build --release --quiet --target $(FUZZ_TARGET) --bin codec
	mkdir -p target/fuzz-corpus target/fuzz-crashes
	router_core/fuzz/target/$(FUZZ_TARGET)/release/codec -max_total_time=$(FUZZ_SECONDS) -max_len=70000 \
		-print_final_stats=1 -artifact_prefix=target/fuzz-crashes/ target/fuzz-corpus

# The chaos suite (docs/service.md): >= 100 writer kills, >= 20 nats-server restarts, >= 20
# stalls past the lease, storage- and disk-full episodes, cluster node kills, then the
# fuzzers. Long (tens of minutes), so not in CI; `make test` runs a bounded version.
# CHAOS_ARGS passes options (e.g. CHAOS_ARGS="--kills 30 --seed 7").
chaos: setup
	$(PY) tools/chaos.py $(CHAOS_ARGS)
	$(MAKE) fuzz

clean:
	rm -rf $(VENV) target reports

# The soak (benchmarks/soak.py, docs/service.md "Soak"): 5,000 inputs/s closed loop for
# SOAK_MINUTES (60 by default; soak-short: 10, to compare builds). Table on stdout, JSON
# in reports/soak-<minutes>m.json. SOAK_SYNC=interval: the server flushes every 2 min instead
# of before each ack (--sync).
SOAK_MINUTES ?= 60
soak: setup
	$(PY) benchmarks/soak.py --minutes $(SOAK_MINUTES)

soak-short: setup
	$(PY) benchmarks/soak.py --minutes $(if $(filter command line environment,$(origin SOAK_MINUTES)),$(SOAK_MINUTES),10)
