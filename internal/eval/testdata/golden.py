"""Write golden.json: randomised runs and qrels and PyPI ir-measures' values.

Run by `make eval-golden` (venv .cache/venv-eval, ir-measures pinned in
mk/eval.mk); internal/eval's tests read only the output.
"""
import json
import random
import sys

import ir_measures
from ir_measures import nDCG, RR, R

SEED = 20261202
MEASURES = [nDCG @ 10, nDCG @ 5, nDCG @ 1, nDCG @ 100, RR @ 10, RR @ 3, R @ 10, R @ 5, R @ 100]


def main(out):
    rng = random.Random(SEED)
    qrels, run = {}, {}
    for q in range(60):
        qid = f"q{q}"
        pool = [f"d{q}_{i}" for i in range(rng.randint(1, 40))]
        judged = rng.sample(pool, rng.randint(1, len(pool)))
        kind = q % 6
        labels = {}
        for d in judged:
            if kind == 0:
                labels[d] = 0  # no relevant document at all
            elif kind == 1:
                labels[d] = rng.choice([0, 1])  # binary
            else:
                labels[d] = rng.choice([0, 0, 0, 1, 2, 3])  # graded
        qrels[qid] = labels
        # The run: a random subset of the pool (some judged documents never
        # retrieved, some retrieved ones unjudged), distinct scores.
        retrieved = rng.sample(pool, rng.randint(1, len(pool)))
        extra = [f"u{q}_{i}" for i in range(rng.randint(0, 5))]
        docs = retrieved + extra
        rng.shuffle(docs)
        scores = sorted(rng.sample(range(1, 10**6), len(docs)), reverse=True)
        run[qid] = {d: float(s) / 1000 for d, s in zip(docs, scores)}
    values = {}
    for m in ir_measures.iter_calc(MEASURES, qrels, run):
        values.setdefault(m.query_id, {})[str(m.measure)] = m.value
    mean = {str(k): v for k, v in ir_measures.calc_aggregate(MEASURES, qrels, run).items()}
    queries = {}
    for qid in sorted(qrels):
        ranking = sorted(run[qid], key=lambda d: -run[qid][d])
        queries[qid] = {"qrels": qrels[qid], "ranking": ranking, "values": values.get(qid, {})}
    doc = {
        "generator": "internal/eval/testdata/golden.py (make eval-golden)",
        "ir_measures": ir_measures.__version__,
        "seed": SEED,
        "measures": [str(m) for m in MEASURES],
        "queries": queries,
        "mean": mean,
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
