# labbook's front door. `make demo` and `make test` are the two commands a new machine needs.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
CTEST_JOBS ?= $(JOBS)

.PHONY: all deps configure build test test-asan bench demo format clean

all: build

deps:
	@scripts/install-deps

configure: deps
	@cmake --preset release >/dev/null

build: configure
	@cmake --build --preset release -j $(JOBS)
	@echo "built build/bin/labbook"

test: build
	@ctest --preset release -j $(CTEST_JOBS)

test-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	@ctest --preset asan -j $(CTEST_JOBS) --label-exclude bench-smoke

bench: build
	@scripts/run-benchmarks

demo: build
	@scripts/demo

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	@rm -rf build build-debug build-asan
