# sidecar (issue 4): the rerank server, batcher, cache, APIs and config.
# Its unit and loopback tests run in `make test` (go test ./...); these are
# the area's own entry points.

SIDECAR_PKGS := ./sidecar/rerank/... ./sidecar/batcher/... ./sidecar/internal/... ./sidecar/api/... ./sidecar/server/... ./sidecar/config/... ./sidecar/metrics/... ./sidecar/proxy/...
SIDECAR_FUZZTIME ?= 20s
SIDECAR_BENCH_COUNT ?= 3

.PHONY: test-sidecar fuzz-sidecar bench-sidecar check-nocgo

# The packages that call ONNX Runtime or NVML themselves (or are the binary
# that links them); every other package must build with CGO_ENABLED=0.
CGO_PKGS := ./cmd/crossrank ./models/ort ./models/loader ./internal/metrics/nvml ./internal/testenv ./internal/reranktest ./internal/roofline

## check-nocgo: every package but CGO_PKGS builds without cgo
check-nocgo:
	@pkgs="$$($(GO) list ./... | grep -v -x -F $(foreach p,$(CGO_PKGS),-e github.com/crossrank/crossrank/$(patsubst ./%,%,$(p))))"; \
	CGO_ENABLED=0 $(GO) build -o /dev/null $$pkgs && echo "check-nocgo: $$(echo $$pkgs | wc -w) packages build with CGO_ENABLED=0"

TEST_TARGETS += check-nocgo

## test-sidecar: the sidecar's tests alone (real ONNX Runtime on the shape twin, loopback HTTP)
test-sidecar: setup-ort
	$(GO) test -count=1 -timeout 10m $(SIDECAR_PKGS)

## fuzz-sidecar: run each request-decoder fuzz target for SIDECAR_FUZZTIME
fuzz-sidecar:
	$(GO) test -run XXX -fuzz '^FuzzDecodeRerank$$' -fuzztime $(SIDECAR_FUZZTIME) ./sidecar/api/
	$(GO) test -run XXX -fuzz '^FuzzDecodeTEI$$' -fuzztime $(SIDECAR_FUZZTIME) ./sidecar/api/
	$(GO) test -run XXX -fuzz '^FuzzDecodeHits$$' -fuzztime $(SIDECAR_FUZZTIME) ./sidecar/api/
	$(GO) test -run XXX -fuzz '^FuzzParseObject$$' -fuzztime $(SIDECAR_FUZZTIME) ./sidecar/internal/rawjson/
	$(GO) test -run XXX -fuzz '^FuzzAppendString$$' -fuzztime $(SIDECAR_FUZZTIME) ./sidecar/internal/jsonw/

## bench-sidecar: end-to-end HTTP pairs/s vs the raw session, batch sizes, workers x threads, grouping vs FIFO
bench-sidecar: setup-ort
	$(GO) test -run XXX -bench 'BenchmarkSidecar|BenchmarkRawSession' -benchtime 1x -count $(SIDECAR_BENCH_COUNT) -timeout 60m ./sidecar/server/ | tee .cache/bench-sidecar.txt

BENCH_TARGETS += bench-sidecar

## profile-ops: share of ONNX Runtime kernel time per operator type on the twin (batch 16 x 72 tokens, 1 thread; needs venv-convert)
profile-ops: setup-twin venv-convert
	$(CONVERT_PY) scripts/models/profile_ops.py $(TWIN_DIR)/onnx/model.onnx --batch 16 --length 72
