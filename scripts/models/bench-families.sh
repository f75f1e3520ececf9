#!/usr/bin/env bash
# make bench-families: pairs/s of each family's bench-size twin (the shape of
# a named reranker, random weights), official ONNX export (optimum) vs
# crossrank model convert's graph, batch 16 × seq 128 and 16 × 512, 2
# intra-op threads, through models/ort (BenchmarkFamilies). ROUNDS rounds;
# each round runs every family, official then converted, so that load from
# other processes hits all alike. Prints every round, then the medians as a
# markdown table, also written to TABLE.
#
# usage: bench-families.sh TEST_BINARY FAMILIES_DIR BERT_OFFICIAL BERT_CONVERTED ROUNDS TABLE [BENCHTIME]
#   FAMILIES_DIR/<family>/{official,converted} for electra, xlm-roberta,
#   modernbert, deberta-v2 (scripts/models/bench_families.py); BERT is the
#   MiniLM-L6-H384 shape twin (.cache/models/twin) and its two graphs.
set -euo pipefail
bin=$1 dir=$2 bert_official=$3 bert_converted=$4 rounds=$5 table=$6 benchtime=${7:-2x}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
dir=$(cd "$dir" && pwd) bert_official=$(cd "$bert_official" && pwd) bert_converted=$(cd "$bert_converted" && pwd)
table=$(cd "$(dirname "$table")" && pwd)/$(basename "$table")
cd "$(dirname "$0")/../../internal/convert"
families="bert electra xlm-roberta modernbert deberta-v2"
for ((i = 1; i <= rounds; i++)); do
	for f in $families; do
		official=$dir/$f/official converted=$dir/$f/converted
		if [ "$f" = bert ]; then official=$bert_official converted=$bert_converted; fi
		CROSSRANK_BENCH_OFFICIAL=$official CROSSRANK_BENCH_CONVERTED=$converted \
			"$bin" -test.run '^$' -test.bench '^BenchmarkFamilies$' -test.benchtime "$benchtime" |
			grep 'pairs/s' | sed "s/^/round $i $f /"
	done
done | tee /dev/stderr | awk -v rounds="$rounds" -v benchtime="$benchtime" '
	function median(key,   k, i, j, t, a) {
		k = n[key]; if (k == 0) return "-"
		for (i = 1; i <= k; i++) a[i] = v[key, i]
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	{
		# round I FAMILY BenchmarkFamilies/GRAPH/seq=L-P  N  X ns/op  Y pairs/s
		split($4, part, "/"); graph = part[2]; seq = part[3]; sub(/^seq=/, "", seq); sub(/-[0-9]+$/, "", seq)
		key = $3 SUBSEP graph SUBSEP seq; v[key, ++n[key]] = $(NF-1)
	}
	END {
		shape["bert"] = "MiniLM-L6-H384 (`cross-encoder/ms-marco-MiniLM-L-6-v2`), 6 × 384"
		shape["electra"] = "ELECTRA-base (`cross-encoder/ms-marco-electra-base`), 12 × 768"
		shape["xlm-roberta"] = "XLM-R base (`BAAI/bge-reranker-base`), 12 × 768"
		shape["modernbert"] = "ModernBERT-base (`Alibaba-NLP/gte-reranker-modernbert-base`), 22 × 768"
		shape["deberta-v2"] = "DeBERTa-v3-base (`mixedbread-ai/mxbai-rerank-base-v1`), 12 × 768"
		split("bert electra xlm-roberta modernbert deberta-v2", fams, " ")
		printf "| family | shape of (layers × width) | official 16×128 | converted 16×128 | official 16×512 | converted 16×512 |\n"
		printf "|---|---|---|---|---|---|\n"
		for (i = 1; i <= 5; i++) {
			f = fams[i]; printf "| %s | %s |", f, shape[f]
			for (s = 128; s <= 512; s *= 4) {
				o = median(f SUBSEP "official" SUBSEP s); c = median(f SUBSEP "converted" SUBSEP s)
				printf " %s | %s", (o == "-" ? o : sprintf("%.2f", o)), (c == "-" ? c : sprintf("%.2f", c))
				if (o != "-" && c != "-" && o > 0) printf " (%.2fx)", c / o
				printf " |"
			}
			printf "\n"
		}
		printf "\npairs/s, medians of %d round(s), %s per figure, 2 intra-op threads (the ratio is converted / official)\n", rounds, benchtime
	}' | tee "$table"
