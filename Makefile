# Token Keeper: top-level entry points. `make test` is what CI runs (.ci/run).
#   make deps    install missing build/test dependencies (apt packages, node, the fixture's npm packages)
#   make build   debug build of the workspace
#   make test    everything, against real services (keychain, notifications, OAuth server), headless
#   make run     demo: a local OAuth server and the keeper renewing a 20-second token
#   make bench   benchmarks (release build)
#   make fmt / make lint
SHELL := /bin/bash
CARGO ?= cargo
SESSION := dbus-run-session -- tests/env/session.sh

.PHONY: all deps build test run bench fmt lint
all: build

deps:
	scripts/ensure-deps.sh

build:
	$(CARGO) build --workspace

# extra arguments for the test binaries: make test TEST_ARGS='harness_'
test: deps build
	$(SESSION) scripts/run-tests.sh $(TEST_ARGS)

run: deps
	$(CARGO) build -p tokenkeeper
	scripts/demo.sh

bench: deps
	$(CARGO) build --workspace --release
	$(SESSION) scripts/bench.sh

fmt:
	$(CARGO) fmt --all --check

lint:
	$(CARGO) clippy --workspace -- -D warnings
