# switchyard: the two commands are `make run` and `make test`.
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
export CARGO_TERM_COLOR ?= never

.PHONY: run test build release install bench fmt venv

run:            ## run the relay on the embedded store (settings.toml)
	$(CARGO) run --release --bin switchyard -- serve --config settings.toml

test: venv      ## every test: formatting, lints, unit, integration, SDK scripts
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test --workspace

# The official Python SDKs the integration tests drive, in a git-ignored venv.
venv: $(VENV)/.installed
$(VENV)/.installed: tests/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
	touch $@

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release --bin switchyard

# Puts `switchyard` on the PATH (cargo's bin directory, ~/.cargo/bin unless CARGO_HOME or
# CARGO_INSTALL_ROOT say otherwise), built in release mode from this checkout's Cargo.lock.
install:        ## install the `switchyard` binary into cargo's bin directory
	$(CARGO) install --path . --locked --bin switchyard

bench:          ## criterion benchmarks (figures go to BENCHMARKS.md)
	$(CARGO) bench -p switchyard-actors

fmt:
	$(CARGO) fmt --all
