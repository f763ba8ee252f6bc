# switchyard: the two commands are `make run` and `make test`.
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: run test build release check fmt clippy bench

run:            ## run the relay on the embedded store (settings.toml)
	$(CARGO) run --release --bin switchyard -- serve --config settings.toml

test:           ## every test: formatting, lints, unit, integration, SDK scripts
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test --workspace

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release --bin switchyard

bench:          ## criterion benchmarks (figures go to BENCHMARKS.md)
	$(CARGO) bench -p switchyard-actors

fmt:
	$(CARGO) fmt --all
