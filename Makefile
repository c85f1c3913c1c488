# longpoll-chat: `make run` serves the app, `make test` runs every test. Both install what is
# missing first (idempotent: nothing is reinstalled when the right version is present).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

ADDR ?= 127.0.0.1:3000
CARGO_LEPTOS_VERSION := 0.3.10
WASM_BINDGEN_VERSION := 0.2.130
BINARYEN_VERSION := 132.0.0
REDOC_VERSION := 2.5.4
# Tools installed outside cargo (wasm-opt from npm) live here, first on PATH.
TOOLS_DIR ?= $(HOME)/.cache/longpoll-chat/tools
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
SERVER_BIN := $(TARGET_DIR)/release/longpoll-chat
export PATH := $(TOOLS_DIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export LEPTOS_SITE_ROOT ?= target/site

.PHONY: run test build setup setup-rust setup-node setup-chromium setup-redis unit e2e lint bench clean

## run: install what is missing, build the release app, serve it on $(ADDR)
run: setup build
	$(SERVER_BIN) --addr $(ADDR)

## test: install what is missing, then unit, HTTP and end-to-end tests (tests that need Redis
## start their own private redis-server on a free port and temporary directory)
test: setup unit e2e

build:
	cargo leptos build --release
	@# ReDoc's bundle, served by the app at /redoc.standalone.js (no CDN).
	cp $(TOOLS_DIR)/node_modules/redoc/bundles/redoc.standalone.js $(LEPTOS_SITE_ROOT)/

unit:
	cargo test --features ssr

# The end-to-end suite starts the release server itself (see end2end/playwright.config.ts).
e2e: build
	cd end2end && SERVER_BIN="$(abspath $(SERVER_BIN))" npx playwright test

lint:
	cargo fmt --check
	cargo clippy --features ssr --all-targets -- -D warnings
	cargo clippy --all-features --all-targets -- -D warnings
	cargo clippy --features hydrate --all-targets --target wasm32-unknown-unknown -- -D warnings

setup: setup-rust setup-node setup-chromium setup-redis

setup-rust:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
	  || rustup target add wasm32-unknown-unknown
	@cargo leptos --version 2>/dev/null | grep -q "$(CARGO_LEPTOS_VERSION)" \
	  || cargo install --locked cargo-leptos@$(CARGO_LEPTOS_VERSION)
	@wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)" \
	  || cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

# wasm-opt from npm's binaryen (Debian's binaryen is too old and breaks the WASM silently) and
# ReDoc's bundle, installed together: npm prunes what a later install does not name.
setup-node:
	@test -x $(TOOLS_DIR)/node_modules/.bin/wasm-opt \
	    -a -f $(TOOLS_DIR)/node_modules/redoc/bundles/redoc.standalone.js \
	  || npm install --prefix $(TOOLS_DIR) --no-save --no-audit --no-fund \
	       binaryen@$(BINARYEN_VERSION) redoc@$(REDOC_VERSION)
	@test -d end2end/node_modules/@playwright/test \
	  || (cd end2end && npm ci --no-audit --no-fund)

setup-chromium:
	@command -v chromium >/dev/null \
	  || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium; } \
	  || { echo "Chromium is missing: run 'apt-get install chromium' as root"; exit 1; }

# The Redis store's tests run redis-server from the distribution (no service is started).
setup-redis:
	@command -v redis-server >/dev/null \
	  || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq redis-server; } \
	  || { echo "redis-server is missing: run 'apt-get install redis-server' as root"; exit 1; }

## bench: release build, then bench/run.sh (long and timing-dependent; not part of `make test`)
bench: setup-rust setup-node build
	SERVER_BIN="$(abspath $(SERVER_BIN))" bash bench/run.sh

clean:
	cargo clean
