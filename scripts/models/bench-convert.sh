#!/usr/bin/env bash
# make bench-convert: the converted shape twin vs its official ONNX export
# (optimum-cli export onnx), pairs/s at batch 16, seq 128, 2 threads, through
# models/ort. ROUNDS interleaved rounds (official, converted, official, ...)
# so that load from other processes hits both alike; prints every round and
# the medians.
#
# usage: bench-convert.sh TEST_BINARY OFFICIAL_DIR CONVERTED_DIR [ROUNDS]
set -euo pipefail
bin=$1 official=$2 converted=$3 rounds=${4:-5}
pkg=$(cd "$(dirname "$0")/../../internal/convert" && pwd)
cd "$pkg"
for ((i = 1; i <= rounds; i++)); do
	CROSSRANK_BENCH_OFFICIAL=$official CROSSRANK_BENCH_CONVERTED=$converted \
		"$bin" -test.run '^$' -test.bench ConvertedVsOfficial -test.benchtime 5x | grep 'pairs/s' | sed "s/^/round $i: /"
done | tee /dev/stderr | awk '
	{ name = $3; sub(/^BenchmarkConvertedVsOfficial\//, "", name); sub(/-[0-9]+$/, "", name); v[name, ++n[name]] = $(NF-1) }
	END {
		for (m in n) {
			k = n[m]; for (i = 1; i <= k; i++) a[i] = v[m, i]
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			med[m] = (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
			printf "median %-9s %8.2f pairs/s over %d rounds (batch 16, seq 128, 2 threads)\n", m, med[m], k
		}
		if (med["official"] > 0) printf "converted / official: %.2f\n", med["converted"] / med["official"]
	}' 2>&1
