# crossrank — build, set-up and test entry points.
# `make run` and `make test` are the two commands a fresh machine needs.
# Each area adds its own targets in mk/*.mk and appends them to
# SETUP_TARGETS / TEST_TARGETS / BENCH_TARGETS.

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

SETUP_TARGETS :=
TEST_TARGETS :=
BENCH_TARGETS :=

.PHONY: all setup build run test vet fmt-check bench setup-ort setup-node clean

all: build

include $(sort $(wildcard mk/*.mk))

## setup: install everything the build and tests need (idempotent, cached in .cache/)
setup: setup-ort setup-node $(SETUP_TARGETS)

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

## run: install, build and start the sidecar on the default model
run: setup build
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
