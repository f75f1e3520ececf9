# plugins: WASM plugins (issue 5) — the standard plugins, the SDK examples
# (Go, C, AssemblyScript) and the purpose-built faulty guests of the host's
# tests. `make plugins` builds them all (make setup); `make run` serves with
# --plugin-dir plugins/wasm and builds only the standard plugins
# (plugins-std: Go alone, no C toolchain, no node).

PLUGINS_STD := fields html normalize query truncate
PLUGINS_OUT := $(ROOT)/plugins/wasm
PLUGINS_TEST_OUT := $(CACHE)/plugins
PLUGINS_GO_DEPS := $(wildcard sdk/go/crossrankplugin/*.go plugins/abi/*.go) go.mod
GO_WASM := GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) build -buildmode=c-shared -trimpath
WASI_CC ?= clang
WASI_CFLAGS := --target=wasm32-wasi -O2 -mbulk-memory -mexec-model=reactor -Wall -Werror -I$(ROOT)/sdk/c
ASC := $(ROOT)/tools/node/node_modules/.bin/asc

PLUGINS_STD_WASM := $(patsubst %,$(PLUGINS_OUT)/%.wasm,$(PLUGINS_STD))
PLUGINS_TEST_WASM := $(PLUGINS_TEST_OUT)/faulty.wasm $(PLUGINS_TEST_OUT)/noexport.wasm $(PLUGINS_TEST_OUT)/hostfns.wasm \
	$(PLUGINS_TEST_OUT)/example-go.wasm $(PLUGINS_TEST_OUT)/example-c.wasm $(PLUGINS_TEST_OUT)/example-as.wasm

.PHONY: plugins plugins-std setup-plugin-toolchains test-plugins bench-plugins

RUN_SETUP_TARGETS += plugins-std
TEST_SETUP_TARGETS += plugins
BENCH_TARGETS += bench-plugins

## plugins: build the standard plugins into plugins/wasm and the examples and test guests into .cache/plugins
plugins: plugins-std $(PLUGINS_TEST_WASM)
plugins-std: $(PLUGINS_STD_WASM)

$(PLUGINS_OUT)/%.wasm: $(wildcard plugins/std/*/*.go) $(PLUGINS_GO_DEPS)
	@mkdir -p $(@D)
	$(GO_WASM) -o $@ ./plugins/std/$*

$(PLUGINS_TEST_OUT)/faulty.wasm: $(wildcard plugins/host/testdata/faulty/*.go) $(PLUGINS_GO_DEPS)
	@mkdir -p $(@D)
	$(GO_WASM) -o $@ ./plugins/host/testdata/faulty

$(PLUGINS_TEST_OUT)/hostfns.wasm: $(wildcard plugins/host/testdata/hostfns/*.go) $(PLUGINS_GO_DEPS)
	@mkdir -p $(@D)
	$(GO_WASM) -o $@ ./plugins/host/testdata/hostfns

$(PLUGINS_TEST_OUT)/noexport.wasm: $(wildcard plugins/host/testdata/noexport/*.go)
	@mkdir -p $(@D)
	$(GO_WASM) -o $@ ./plugins/host/testdata/noexport

$(PLUGINS_TEST_OUT)/example-go.wasm: $(wildcard examples/plugins/go/*.go) $(PLUGINS_GO_DEPS)
	@mkdir -p $(@D)
	$(GO_WASM) -o $@ ./examples/plugins/go

$(PLUGINS_TEST_OUT)/example-c.wasm: examples/plugins/c/snippet.c sdk/c/crossrank.h | setup-plugin-toolchains
	@mkdir -p $(@D)
	$(WASI_CC) $(WASI_CFLAGS) -o $@ examples/plugins/c/snippet.c

$(PLUGINS_TEST_OUT)/example-as.wasm: examples/plugins/assemblyscript/snippet.ts sdk/assemblyscript/crossrank.ts | tools/node/node_modules/.crossrank-stamp
	@mkdir -p $(@D)
	$(ASC) examples/plugins/assemblyscript/snippet.ts --config examples/plugins/assemblyscript/asconfig.json --outFile $@

## setup-plugin-toolchains: clang, lld and wasi-libc for the C SDK (Debian packages; skipped when present)
setup-plugin-toolchains:
	@if ! command -v $(WASI_CC) >/dev/null || ! command -v wasm-ld >/dev/null || \
	   ! test -f /usr/lib/wasm32-wasi/libc.a || ! ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1; then \
		echo "installing clang lld wasi-libc libclang-rt-14-dev-wasm32"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang lld wasi-libc libclang-rt-14-dev-wasm32; \
	fi

## bench-plugins: pipeline overhead per 100-passage request, per SDK language
bench-plugins: plugins
	$(GO) test -run '^$$' -bench 'BenchmarkPipeline' -benchtime 50x -count 3 ./plugins/host/
