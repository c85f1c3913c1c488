# longpoll-chat: `make run` serves the app, `make test` runs every test. Both install what is
# missing first (idempotent: nothing is reinstalled when the right version is present).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

ADDR ?= 127.0.0.1:3000
CARGO_LEPTOS_VERSION := 0.3.10
WASM_BINDGEN_VERSION := 0.2.130
BINARYEN_VERSION := 132.0.0
REDOC_VERSION := 2.5.4
SCHEMATHESIS_VERSION := 4.32.5
MOTO_VERSION := 5.2.6
# Tools installed outside cargo (wasm-opt from npm) live here, first on PATH.
TOOLS_DIR ?= $(HOME)/.cache/longpoll-chat/tools
# Python tools (schemathesis from PyPI) live in a venv there.
VENV := $(TOOLS_DIR)/venv
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
SERVER_BIN := $(TARGET_DIR)/release/longpoll-chat
# The server the end-to-end and fuzz runs start: the one `cargo test` builds anyway (debug
# profile, incremental), not the shipped fat-LTO build, which costs minutes after any change.
TEST_SERVER_BIN := $(TARGET_DIR)/debug/longpoll-chat
export PATH := $(TOOLS_DIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export LEPTOS_SITE_ROOT ?= target/site
# What the site is built from (the server's own files are not; this Makefile is, for the tools'
# versions), and the hash of it the site was last built from: content, not mtimes, so a fresh
# clone (CI) reuses a site kept outside it.
SITE_SOURCES := $(sort $(shell find src -path src/server -prune -o -type f -print) \
	$(shell find style public -type f)) Cargo.toml Cargo.lock .cargo/config.toml Makefile
SITE_STAMP := $(LEPTOS_SITE_ROOT)/.built-from

.PHONY: help run test build build-test site setup setup-rust setup-node setup-python setup-chromium setup-brotli setup-redis setup-nginx \
	test-rust test-e2e test-api-fuzz lint bench clean

## help: list the targets
help:
	@sed -n 's/^## \([a-z0-9-]*\): /\1\t/p' $(MAKEFILE_LIST) | expand -t 16

## run: install what is missing, build the release app, serve it on $(ADDR)
run: setup build
	$(SERVER_BIN) --addr $(ADDR)

## test: install what is missing, then every Rust test, the end-to-end tests and the API fuzz run
test: setup test-rust test-e2e test-api-fuzz

## build: the release server and the site (WASM, CSS, assets) in $(LEPTOS_SITE_ROOT)
build: site
	cargo leptos build --release --server-only

## test-rust: every cargo test: unit, HTTP, store contract, real processes, Redis
# Tests that need Redis start their own private redis-server (a free port, a temporary dir).
test-rust:
	MOTO_SERVER="$(abspath $(VENV))/bin/moto_server" cargo test --features ssr

## build-test: the server as the tests build it, and the site (release WASM) it serves
# The site is what ships (the release WASM, optimized by wasm-opt); only the server differs.
# `cargo test --no-run` (not `cargo build`) builds the server: the tests' dependencies have
# other features (tokio's test-util), and a `cargo build` would relink it differently each time.
build-test: site
	cargo test --features ssr --no-run

## site: the release site in $(LEPTOS_SITE_ROOT), rebuilt only when what it is built from changed
# (cargo-leptos regenerates and minifies the JS and WASM on every run, which costs a minute).
# The asset hashes go to the site root (cargo-leptos puts them beside the server's binary),
# where the server reads them (`site::site_assets`). ReDoc's bundle is served by the app
# at /redoc.standalone.js (no CDN). Every file is then compressed at the highest gzip and brotli
# levels: the server sends these as they are.
site: setup-brotli
	@built_from="$$(sha256sum $(SITE_SOURCES) | sha256sum)"; \
	if [ "$$built_from" != "$$(cat $(SITE_STAMP) 2>/dev/null)" ]; then \
		LEPTOS_HASH_FILE_NAME="$(abspath $(LEPTOS_SITE_ROOT))/hash.txt" \
			cargo leptos build --release --frontend-only --split; \
		cp $(TOOLS_DIR)/node_modules/redoc/bundles/redoc.standalone.js $(LEPTOS_SITE_ROOT)/; \
		find $(LEPTOS_SITE_ROOT) -type f \( -name '*.js' -o -name '*.wasm' -o -name '*.css' \
			-o -name '*.json' -o -name '*.ico' \) -print0 \
		| xargs -0 -P 2 -I {} sh -c 'gzip -9 -n -k -f "$$1" && brotli -q 11 -k -f "$$1"' _ {}; \
		echo "$$built_from" > $(SITE_STAMP); \
	else echo "site: $(LEPTOS_SITE_ROOT) is built from these sources"; fi

## test-e2e: Playwright in Chromium against the test server, which it starts itself
test-e2e: build-test
	cd end2end && SERVER_BIN="$(abspath $(TEST_SERVER_BIN))" npx playwright test

## test-api-fuzz: schemathesis against the test server's /openapi.json (about a minute)
# Positive and negative cases for every operation, bounded in count; fails on any finding.
test-api-fuzz: setup-python build-test
	bash tests/schemathesis/run.sh "$(abspath $(TEST_SERVER_BIN))" "$(abspath $(VENV))/bin/schemathesis"

## lint: rustfmt, clippy (-D warnings) for the server and the browser builds, and the docs
# (warnings as errors: the code leans on intra-doc links; private items too: the docs are for
# the people who change the server). No build enables both features.
lint:
	cargo fmt --check
	cargo clippy --features ssr --all-targets -- -D warnings
	cargo clippy --features hydrate --all-targets --target wasm32-unknown-unknown -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --document-private-items --features ssr

## setup: install what building and testing need, skipping what is present
setup: setup-rust setup-node setup-python setup-chromium setup-brotli setup-redis setup-nginx

## setup-rust: the wasm32 target, cargo-leptos and wasm-bindgen-cli
# The tools build in cargo install's own temporary directory, not in the app's target dir.
setup-rust:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
	  || rustup target add wasm32-unknown-unknown
	@cargo leptos --version 2>/dev/null | grep -q "$(CARGO_LEPTOS_VERSION)" \
	  || env -u CARGO_TARGET_DIR cargo install --locked cargo-leptos@$(CARGO_LEPTOS_VERSION)
	@wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)" \
	  || env -u CARGO_TARGET_DIR cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

## setup-node: wasm-opt and ReDoc's bundle (npm), the end-to-end tests' npm packages
# wasm-opt from npm's binaryen (Debian's binaryen is too old and breaks the WASM silently) and
# ReDoc's bundle, installed together: npm prunes what a later install does not name.
setup-node:
	@test -x $(TOOLS_DIR)/node_modules/.bin/wasm-opt \
	    -a -f $(TOOLS_DIR)/node_modules/redoc/bundles/redoc.standalone.js \
	  || npm install --prefix $(TOOLS_DIR) --no-save --no-audit --no-fund \
	       binaryen@$(BINARYEN_VERSION) redoc@$(REDOC_VERSION)
	@test -d end2end/node_modules/@playwright/test \
	  || (cd end2end && npm ci --no-audit --no-fund)

## setup-python: schemathesis (for test-api-fuzz) and moto's S3 server (for the files' S3
## tests), from PyPI, in a venv under $(TOOLS_DIR)
setup-python:
	@$(VENV)/bin/schemathesis --version 2>/dev/null | grep -qx "schemathesis, version $(SCHEMATHESIS_VERSION)" \
	  || { { python3 -m venv --clear $(VENV) \
	         || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq python3-venv \
	              && python3 -m venv --clear $(VENV); }; } \
	       && $(VENV)/bin/pip install -q --disable-pip-version-check schemathesis==$(SCHEMATHESIS_VERSION); }
	@$(VENV)/bin/pip show moto 2>/dev/null | grep -qx "Version: $(MOTO_VERSION)" \
	  || $(VENV)/bin/pip install -q --disable-pip-version-check "moto[server]==$(MOTO_VERSION)"

## setup-chromium: Debian's Chromium for the end-to-end tests
setup-chromium:
	@command -v chromium >/dev/null \
	  || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium; } \
	  || { echo "Chromium is missing: run 'apt-get install chromium' as root"; exit 1; }

## setup-brotli: Debian's brotli, which compresses the site's files at build time
setup-brotli:
	@command -v brotli >/dev/null \
	  || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq brotli; } \
	  || { echo "brotli is missing: run 'apt-get install brotli' as root"; exit 1; }

## setup-redis: Debian's redis-server, which the Redis store's tests start themselves
setup-redis:
	@command -v redis-server >/dev/null \
	  || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq redis-server; } \
	  || { echo "redis-server is missing: run 'apt-get install redis-server' as root"; exit 1; }

## setup-nginx: Debian's nginx, which tests/suite/nginx.rs starts in front of the server
# With docs/deployment.md's recipe, as the test's user; it never runs as a service.
setup-nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx \
	  || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq nginx; } \
	  || { echo "nginx is missing: run 'apt-get install nginx' as root"; exit 1; }

## bench: release build, then bench/run.sh (long and timing-dependent; not part of `make test`)
bench: setup-rust setup-node build
	SERVER_BIN="$(abspath $(SERVER_BIN))" bash bench/run.sh

## clean: remove build outputs
clean:
	cargo clean
