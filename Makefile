# The two commands of the README: `make demo` runs Parley, `make test` runs every test.
# Both install what a fresh Debian machine lacks (scripts/install-deps.sh) first.

SWIFT ?= swift
PARLEY_BIN = .build/debug/parley
RELEASE_BIN = .build/release/parley

.PHONY: deps build release test demo bench clean-data

deps:
	@./scripts/install-deps.sh

build: deps
	$(SWIFT) build

# The release build, as the Docker image ships it (scripts/build-release.sh), and its checks: the
# Swift runtime is linked in, it serves, and the Dockerfile's runtime stage has every library it needs.
release: deps
	SWIFT=$(SWIFT) scripts/build-release.sh parley parley-bench
	python3 Tests/release/check_release_build.py $(RELEASE_BIN)
	python3 Tests/docker/check_runtime_libraries.py $(RELEASE_BIN) docker/Dockerfile Makefile

# Swift tests (live servers on loopback, real SQLite files, the real binary for CLI tests), the
# interoperability test with a standard JWT library, the README's walk-through as written, the
# Docker runtime stage's libraries (the system ones the binary links; `make release` checks the
# release binary itself), schemathesis against /openapi.json, a client generated from it running
# a whole flow, then the pages in headless Chromium (screenshots in test-artifacts/screenshots).
# One debug build serves them all, which keeps a clean clone's run under ten minutes.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	python3 Tests/interop/test_jwks_interop.py $(PARLEY_BIN)
	python3 Tests/readme/test_walkthrough.py
	python3 Tests/docker/check_runtime_libraries.py $(PARLEY_BIN) docker/Dockerfile Makefile
	python3 Tests/openapi/run_schemathesis.py $(PARLEY_BIN)
	python3 Tests/openapi/test_generated_client.py $(PARLEY_BIN)
	cd Tests/browser && PARLEY_BINARY=$(CURDIR)/$(PARLEY_BIN) python3 -m pytest -q -p no:cacheprovider

# Builds, seeds a demo workspace and serves the chat page at http://127.0.0.1:8080/demo, offline.
demo: build
	$(PARLEY_BIN) demo

# Benchmarks of a release build (bench/README.md); installs wrk and nginx if missing.
bench: deps
	@command -v wrk >/dev/null && command -v nginx >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk nginx >/dev/null)
	SWIFT=$(SWIFT) scripts/build-release.sh parley parley-bench
	python3 bench/run.py

clean-data:
	rm -rf data
