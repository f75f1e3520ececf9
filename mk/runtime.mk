# runtime.mk — the ONNX Runtime backend (models/ort): benchmarks.
# The backend's tests (including the transformers.js parity test) run in
# `make test` through `go test ./...`; they need setup-ort, setup-node and
# the twin (generated on first use by internal/testenv).

.PHONY: bench-runtime bench-runtime-quick

RUNTIME_BENCH_OUT ?= $(ROOT)/reports/runtime-bench.txt
RUNTIME_BENCH_COUNT ?= 3

## bench-runtime: session throughput grid, 3 runs per point, medians in a table (7-15 min on the shared 2-core box)
## (fp32/int8 × threads 1,2 × batch 1/8/32/96 × seq 64/128/256) and the sgemm peak
bench-runtime: setup-ort
	@mkdir -p $(dir $(RUNTIME_BENCH_OUT))
	set -o pipefail; $(GO) test ./models/ort/ -run '^$$' -bench 'SgemmPeak|Session' -benchtime 1x -count $(RUNTIME_BENCH_COUNT) -timeout 60m | tee $(RUNTIME_BENCH_OUT)
	awk -f models/ort/testdata/benchtable.awk $(RUNTIME_BENCH_OUT) | tee $(RUNTIME_BENCH_OUT:.txt=.md)
	@echo "bench-runtime: raw results in $(RUNTIME_BENCH_OUT), table in $(RUNTIME_BENCH_OUT:.txt=.md)"

## bench-runtime-quick: the reference point only (fp32, 2 threads, batch 32, seq 128) and the sgemm peak
bench-runtime-quick: setup-ort
	set -o pipefail; $(GO) test ./models/ort/ -run '^$$' -bench 'SgemmPeak/t=2|Session/fp32/t=2/b=32/L=128$$' -benchtime 3x -count 5 \
	  | tee /dev/stderr | awk -f models/ort/testdata/benchtable.awk

BENCH_TARGETS += bench-runtime
