# Token Keeper: top-level entry points. `make test` is what CI runs (.ci/run).
#   make deps    install missing build/test dependencies (apt packages, node, the fixture's npm packages)
#   make build   debug build of the `tokenkeeper` command and the tray app
#   make test    everything, against real services (keychain, notifications, OAuth server), headless
#   make run     demo: a local OAuth server and the keeper renewing a 20-second token
#   make bench   benchmarks (release build)
#   make soak    the 10-minute fault soak (200 integrations); make crash: 2 x 500 kill -9 of the daemon
#   make bench-scale  100 / 1,000 / 10,000 integrations (SCALE_STORE=memory for 10,000;
#                     SCALE_STORE=openbao: 1,000 / 10,000 shared ones on a three-node OpenBao cluster)
#   make soak-shared  five keepers, 50 shared integrations with 6 s tokens, against one keeper
#   make bench-keychain  a keychain write's cost from 1 to 10,000 items (KEYCHAIN_N)
#   make fuzz    the engine's property tests with many cases (FUZZ_CASES, default 10000 each)
#   make test-openbao  only the OpenBao tests (dev server, three-node Raft cluster; also part of make test)
#   make package       the .deb (target/package/token-keeper_VERSION_ARCH.deb); make package-test
#                      installs it for real (apt), checks it as Debian would, then purges it
#   make audit   Cargo.lock against the RustSec advisory database, offline (ADVISORY_DB=path)
#   make fmt / make lint
SHELL := /bin/bash
CARGO ?= cargo
SESSION := dbus-run-session -- tests/env/session.sh

.PHONY: all deps build test test-openbao run package package-test audit bench bench-scale bench-keychain soak soak-shared crash fuzz fmt lint

all: build

deps:
	scripts/ensure-deps.sh

# the two programs one package at a time, as they ship and as the tests run them (built together,
# cargo would unify their features: the command would link the app's GUI libraries)
build:
	$(CARGO) build -p tokenkeeper
	$(CARGO) build -p token-keeper

# extra arguments for the test binaries: make test TEST_ARGS='harness_'
test: deps build
	$(SESSION) scripts/run-tests.sh $(TEST_ARGS)

# the team vault's tests alone: a real OpenBao (scripts/ensure-openbao.sh installs it), no desktop session
test-openbao:
	scripts/ensure-openbao.sh
	$(CARGO) test -p tokenkeeper-tests --test openbao_harness -- --test-threads=2

# one package at a time: built together, cargo would unify their features and rebuild both
run: deps
	$(CARGO) build -p tokenkeeper
	$(CARGO) build -p token-keeper
	scripts/demo.sh

# the .deb: the tray app, the tokenkeeper command, their man pages, completions, desktop entry,
# metainfo, MIME type and systemd user unit (scripts/package-deb.sh; files in packaging/linux/)
package: deps
	scripts/package-deb.sh

# installs the .deb with apt (root or sudo), checks it, purges it: on CI or a throw-away machine.
# Not part of `make test`: a release build of the app takes long (see scripts/package-test.sh).
package-test: package
	$(SESSION) scripts/package-test.sh

# cargo audit, offline: the advisory database is a directory given by ADVISORY_DB (a copy of
# github.com/rustsec/advisory-db), by default ../shared/advisory-db when there is one
ADVISORY_DB ?= $(firstword $(wildcard ../shared/advisory-db))
audit:
	scripts/audit.sh "$(ADVISORY_DB)"

bench: deps
	$(CARGO) build --release -p tokenkeeper
	$(CARGO) build --release -p token-keeper
	$(SESSION) scripts/bench.sh
	TRAY_APP_BIN=$(CURDIR)/target/release/token-keeper TOKENKEEPER_BIN=$(CURDIR)/target/release/tokenkeeper \
	  $(SESSION) $(CARGO) test -p tokenkeeper-tests --test tray_bench -- --nocapture

# the long runs of issue 5 (the suite runs short versions); figures in docs/RELIABILITY.md
soak: deps
	$(CARGO) build -p tokenkeeper
	$(SESSION) $(CARGO) test -p tokenkeeper-tests --test soak_full

# five keepers and a one-keeper baseline, 50 shared integrations with 6 s rotating tokens on a
# three-node OpenBao cluster (SOAK_SECONDS, default 60; SOAK_KEEPERS 5; SOAK_SAMPLE 5 per keeper)
soak-shared: deps
	scripts/ensure-openbao.sh
	$(CARGO) build --release -p tokenkeeper
	TOKENKEEPER_BIN=$(CURDIR)/target/release/tokenkeeper \
	  $(SESSION) $(CARGO) test -p tokenkeeper-tests --test soak_shared -- --nocapture --test-threads=1

crash: deps
	$(CARGO) build -p tokenkeeper
	$(SESSION) $(CARGO) test -p tokenkeeper-tests --test crash_full

# the same properties the CI suite runs with a few hundred cases; expensive ones run FUZZ_CASES/64
FUZZ_CASES ?= 10000
fuzz:
	TOKENKEEPER_FUZZ_CASES=$(FUZZ_CASES) $(CARGO) test -p tokenkeeper-engine --lib -- properties --test-threads=2

# n integrations kept alive by one daemon (SCALE_N=…; SCALE_STORE=memory for 10,000); with
# SCALE_STORE=openbao n shared integrations kept by two daemons on a three-node OpenBao cluster
bench-scale: deps
	$(if $(filter openbao,$(SCALE_STORE)),scripts/ensure-openbao.sh)
	$(CARGO) build --release -p tokenkeeper
	$(SESSION) scripts/bench-scale.sh

# what one keychain write costs as gnome-keyring fills up to KEYCHAIN_N items (default 10,000)
bench-keychain: deps
	$(SESSION) $(CARGO) test -p tokenkeeper-tests --test keychain_bench -- --nocapture

fmt:
	$(CARGO) fmt --all --check

lint:
	$(CARGO) clippy --workspace -- -D warnings
