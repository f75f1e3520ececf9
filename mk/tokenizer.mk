# models/tokenizer (issue 3): parity goldens, Unicode tables, benchmark, fuzz.
# The parity test reruns the Hugging Face tokenizers library (node oracle in
# tools/node) when it is installed; under make it must be.

TOK_DIR := models/tokenizer
TOK_GEN := $(TOK_DIR)/testdata/gen
export CROSSRANK_REQUIRE_ORACLE ?= 1

.PHONY: tokenizer-goldens tokenizer-tables tokenizer-bench tokenizer-fuzz tokenizer-oracle-check

## tokenizer-goldens: regenerate models/tokenizer/testdata/goldens-*.jsonl.gz with the node oracle
## (split in two parts so no committed file passes 4 MB)
tokenizer-goldens: setup-node
	@mkdir -p $(CACHE)
	node $(TOK_GEN)/gen.mjs --out $(CACHE)/goldens.jsonl.gz
	rm -f $(TOK_DIR)/testdata/goldens-*.jsonl.gz
	zcat $(CACHE)/goldens.jsonl.gz | split -l 4300 -d -a 1 --additional-suffix=.jsonl - $(TOK_DIR)/testdata/goldens-
	gzip -9 -n $(TOK_DIR)/testdata/goldens-*.jsonl

## tokenizer-tables: regenerate models/tokenizer/unicode_tables.go from the oracle's character data
tokenizer-tables: setup-node
	@mkdir -p $(CACHE)
	node $(TOK_GEN)/unicode_sweep.mjs $(CACHE)/tokenizer-sweep.json
	$(GO) run ./$(TOK_GEN)/tables -in $(CACHE)/tokenizer-sweep.json -out $(TOK_DIR)/unicode_tables.go

## tokenizer-bench: Go benchmark and the Rust library's timing (one core each) on the same corpus
tokenizer-bench: setup-node
	$(GO) test -run '^$$' -bench . -benchtime 100000x -count 5 -cpu 1 ./$(TOK_DIR)/
	RAYON_NUM_THREADS=1 node $(TOK_GEN)/bench.mjs time 200

## tokenizer-fuzz: fuzz EncodePair (BERT invariants), every test configuration and each model type's families, a minute each
tokenizer-fuzz:
	$(GO) test -run '^$$' -fuzz 'FuzzEncodePair$$' -fuzztime 60s ./$(TOK_DIR)/
	$(GO) test -run '^$$' -fuzz 'FuzzConfigs$$' -fuzztime 60s ./$(TOK_DIR)/
	$(GO) test -run '^$$' -fuzz 'FuzzUnigram$$' -fuzztime 60s ./$(TOK_DIR)/
	$(GO) test -run '^$$' -fuzz 'FuzzBPE$$' -fuzztime 60s ./$(TOK_DIR)/
	$(GO) test -run '^$$' -fuzz 'FuzzWordLevel$$' -fuzztime 60s ./$(TOK_DIR)/
	$(GO) test -run '^$$' -fuzz 'FuzzPrecompiled$$' -fuzztime 60s ./$(TOK_DIR)/

# make test: the oracle must be installed (the parity test reruns it)
tokenizer-oracle-check:
	@node -e 'require("./tools/node/node_modules/@anush008/tokenizers")' || (echo "tokenizer oracle missing: run make setup-node"; exit 1)

TEST_TARGETS += tokenizer-oracle-check
BENCH_TARGETS += tokenizer-bench

# Tokenizer families (issue 12): tiny SentencePiece Unigram and byte-level BPE
# tokenizers trained with the reference libraries, goldens encoded by PyPI
# tokenizers; make test re-encodes a sample with the node oracle.
TOK_VENV := $(CACHE)/venv-tokenizers
TOK_FAM := $(TOK_DIR)/testdata/families

.PHONY: tokenizer-venv tokenizer-families tokenizer-family-goldens tokenizer-family-bench

$(TOK_VENV)/.crossrank-stamp: $(TOK_GEN)/py/requirements.txt
	python3 -m venv $(TOK_VENV)
	$(TOK_VENV)/bin/pip install -q --disable-pip-version-check -r $<
	@touch $@

## tokenizer-venv: Python venv with the pinned sentencepiece, tokenizers, transformers, protobuf
tokenizer-venv: $(TOK_VENV)/.crossrank-stamp

## tokenizer-families: retrain the family tokenizers (testdata/families/*.json) and regenerate their goldens
tokenizer-families: tokenizer-venv
	$(TOK_VENV)/bin/python $(TOK_GEN)/py/families.py train $(TOK_FAM)
	$(MAKE) tokenizer-family-goldens

## tokenizer-family-goldens: regenerate testdata/families/goldens-*.jsonl.gz from the committed tokenizer files
tokenizer-family-goldens: tokenizer-venv
	$(TOK_VENV)/bin/python $(TOK_GEN)/py/families.py goldens $(TOK_FAM) $(TOK_FAM)

## tokenizer-family-bench: Go (one core) beside the Rust library (Node and PyPI bindings, one thread) on each family
tokenizer-family-bench: setup-node tokenizer-venv
	$(GO) test -run '^$$' -bench 'BenchmarkFamilies' -benchtime 20000x -count 5 -cpu 1 ./$(TOK_DIR)/
	RAYON_NUM_THREADS=1 node $(TOK_GEN)/bench.mjs time 100 internal/assets/bert-base-uncased.json $(foreach f,xlmr deberta roberta modernbert,$(TOK_FAM)/$(f)/tokenizer.json)
	TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 $(TOK_VENV)/bin/python $(TOK_GEN)/py/families.py bench 20 internal/assets/bert-base-uncased.json $(foreach f,xlmr deberta roberta modernbert,$(TOK_FAM)/$(f)/tokenizer.json)
