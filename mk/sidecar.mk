# sidecar (issue 4): the rerank server, batcher, cache, APIs and config.
# Its unit and loopback tests run in `make test` (go test ./...); these are
# the area's own entry points.

SIDECAR_PKGS := ./sidecar/rerank/... ./sidecar/batcher/... ./sidecar/cache/... ./sidecar/api/... ./sidecar/server/... ./sidecar/config/...
SIDECAR_FUZZTIME ?= 20s
SIDECAR_BENCH_COUNT ?= 3

.PHONY: test-sidecar fuzz-sidecar bench-sidecar

## test-sidecar: the sidecar's tests alone (real ONNX Runtime on the shape twin, loopback HTTP)
test-sidecar: setup-ort
	$(GO) test -count=1 -timeout 10m $(SIDECAR_PKGS)

## fuzz-sidecar: run each request-decoder fuzz target for SIDECAR_FUZZTIME
fuzz-sidecar:
	$(GO) test -run XXX -fuzz '^FuzzDecodeRerank$$' -fuzztime $(SIDECAR_FUZZTIME) ./sidecar/api/
	$(GO) test -run XXX -fuzz '^FuzzDecodeTEI$$' -fuzztime $(SIDECAR_FUZZTIME) ./sidecar/api/
	$(GO) test -run XXX -fuzz '^FuzzDecodeHits$$' -fuzztime $(SIDECAR_FUZZTIME) ./sidecar/api/
	$(GO) test -run XXX -fuzz '^FuzzParseObject$$' -fuzztime $(SIDECAR_FUZZTIME) ./sidecar/internal/rawjson/
	$(GO) test -run XXX -fuzz '^FuzzAppendString$$' -fuzztime $(SIDECAR_FUZZTIME) ./sidecar/api/jsonw/

## bench-sidecar: end-to-end HTTP pairs/s vs the raw session, batch sizes, workers x threads, grouping vs FIFO
bench-sidecar: setup-ort
	$(GO) test -run XXX -bench 'BenchmarkSidecar|BenchmarkRawSession' -benchtime 1x -count $(SIDECAR_BENCH_COUNT) -timeout 60m ./sidecar/server/ | tee .cache/bench-sidecar.txt

BENCH_TARGETS += bench-sidecar
