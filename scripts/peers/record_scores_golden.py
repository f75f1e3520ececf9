"""Record testdata/infinity_twin_scores.json, the score-check golden of test_peers_report.py.

Takes the first request of a `make bench-peers` run's Infinity score files
(torch engine, and optimum engine: the negative control), cut to its first
--docs documents, and the sidecar's raw scores for the same pairs from a
running sidecar (TEI /rerank with raw_scores), and writes them side by side.

usage: record_scores_golden.py --target URL --torch out/peers/infinity_scores.jsonl
           --optimum out/peers/infinity_optimum_scores.jsonl [--docs 8] --out FILE.json
"""

import argparse
import json
import sys

import peers_report


def first(path, n):
    with open(path) as f:
        r = json.loads(f.readline())
    return r["query"], r["texts"][:n], r["logits"][:n], r.get("scale", "logit")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--torch", required=True)
    ap.add_argument("--optimum", required=True)
    ap.add_argument("--docs", type=int, default=8)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    q, texts, torch_scores, s1 = first(a.torch, a.docs)
    q2, texts2, optimum_scores, s2 = first(a.optimum, a.docs)
    if (q, texts) != (q2, texts2) or s1 != "logit" or s2 != "logit":
        print("record_scores_golden: the two files must hold raw scores of the same request", file=sys.stderr)
        return 2
    golden = {
        "recorded_with": "python3 scripts/peers/record_scores_golden.py --target URL --torch "
                         "out/peers/infinity_scores.jsonl --optimum out/peers/infinity_optimum_scores.jsonl "
                         "--out scripts/peers/testdata/infinity_twin_scores.json: the score files of a make "
                         "bench-peers run (Infinity 0.0.78, torch and optimum engines) and a sidecar "
                         "(crossrank serve --model .cache/models/twin) at URL",
        "model": "shape twin (.cache/models/twin), fp32",
        "query": q,
        "texts": texts,
        "sidecar_logits": peers_report.our_logits(a.target, q, texts),
        "infinity_torch_logits": torch_scores,
        "infinity_optimum_logits": optimum_scores,
    }
    with open(a.out, "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
