# crossrank — build, set-up and test entry points.
# `make run` and `make test` are the two commands a fresh machine needs.
# Each area adds its own targets in mk/*.mk and appends them to
# RUN_SETUP_TARGETS (what serving needs: `make run` installs only these),
# TEST_SETUP_TARGETS (what only the tests need: node tools, chromium, the C
# toolchain, test guests, the int8 twin…), TEST_TARGETS and BENCH_TARGETS.
# SETUP_TARGETS is still honoured, as part of the full set-up.

SHELL := /bin/bash
GO ?= go
ROOT := $(CURDIR)
CACHE := $(ROOT)/.cache
BIN := $(ROOT)/bin/crossrank
MODEL ?=
ADDR ?= 127.0.0.1:8080
export CROSSRANK_ORT_LIB ?= $(CACHE)/ort/libonnxruntime.so.1
export CGO_ENABLED := 1
# go-nvml binds the whole NVML header, deprecated calls included: keep its
# compiler warnings out of build logs.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations
export GOFLAGS ?= -buildvcs=false

RUN_SETUP_TARGETS :=
TEST_SETUP_TARGETS :=
SETUP_TARGETS :=
TEST_TARGETS :=
BENCH_TARGETS :=

.PHONY: all setup setup-run build run test vet fmt-check bench setup-ort setup-node clean

all: build

include $(sort $(wildcard mk/*.mk))

## setup-run: install only what serving needs: ONNX Runtime, the default model, the standard plugins (Go only)
setup-run: setup-ort $(RUN_SETUP_TARGETS)

## setup: install everything the build and tests need (idempotent, cached in .cache/)
setup: setup-run setup-node $(TEST_SETUP_TARGETS) $(SETUP_TARGETS)

setup-ort:
	@./scripts/setup-ort.sh

setup-node: tools/node/node_modules/.crossrank-stamp
tools/node/node_modules/.crossrank-stamp: tools/node/package.json tools/node/package-lock.json
	@command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	cd tools/node && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## build: the crossrank binary in bin/
build:
	$(GO) build -o $(BIN) ./cmd/crossrank

## run: install what serving needs (setup-run), build and start the sidecar on the default model
run: setup-run build
	$(BIN) serve $(if $(MODEL),--model-pull $(MODEL),--model $(CACHE)/models/all-MiniLM-L6-v2) --addr $(ADDR) --plugin-dir $(ROOT)/plugins/wasm

vet:
	$(GO) vet ./...

fmt-check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)

## test: every test, on the real ONNX Runtime, real wazero and real HTTP
test: setup fmt-check vet
	$(GO) test -count=1 -timeout 20m ./...
	@$(if $(TEST_TARGETS),$(MAKE) --no-print-directory $(TEST_TARGETS),true)

bench: setup $(BENCH_TARGETS)

clean:
	rm -rf bin
