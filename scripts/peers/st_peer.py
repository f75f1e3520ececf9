"""Score bench requests with sentence-transformers' CrossEncoder, for `make bench-peers`.

One request = one CrossEncoder.predict call over its (query, document) pairs
(batch_size = the request's documents), timed end to end (tokenize + model).

usage: st_peer.py --model DIR --requests REQ.jsonl --out OUT.json
                  --backend torch|onnx [--threads 2] [--warmup 2]
"""

import argparse
import json
import os
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True)
    ap.add_argument("--requests", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--backend", choices=["torch", "onnx"], required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--logits-pairs", help="also write raw logits of every pair of the first N requests here")
    ap.add_argument("--logits-requests", type=int, default=4)
    a = ap.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    import torch  # noqa: E402
    from sentence_transformers import CrossEncoder  # noqa: E402

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    kwargs = {}
    if a.backend == "onnx":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        kwargs = {"file_name": "onnx/model.onnx", "provider": "CPUExecutionProvider", "session_options": so}
    # Identity activation: predict returns raw logits, comparable to ours.
    ce = CrossEncoder(
        a.model,
        device="cpu",
        backend=a.backend,
        max_length=512,
        model_kwargs=kwargs,
        activation_fn=torch.nn.Identity(),
        local_files_only=True,
    )

    reqs = [json.loads(l) for l in open(a.requests) if l.strip()]

    def pairs(r):
        return [(r["query"], d if isinstance(d, str) else d["text"]) for d in r["documents"]]

    for r in reqs[: a.warmup]:
        ce.predict(pairs(r), batch_size=len(r["documents"]), show_progress_bar=False)
    lat = []
    first = None
    t0 = time.perf_counter()
    for r in reqs:
        p = pairs(r)
        s = time.perf_counter()
        logits = ce.predict(p, batch_size=len(p), show_progress_bar=False)
        lat.append((time.perf_counter() - s) * 1000)
        if first is None:
            first = [float(x) for x in logits]
    wall = time.perf_counter() - t0
    with open(a.out, "w") as f:
        json.dump(
            {
                "peer": f"sentence-transformers ({a.backend})",
                "threads": a.threads,
                "torch": torch.__version__,
                "wall_s": wall,
                "pairs": sum(len(r["documents"]) for r in reqs),
                "latencies_ms": lat,
                "first_logits": first,
            },
            f,
        )
    if a.logits_pairs:
        with open(a.logits_pairs, "w") as f:
            for r in reqs[: a.logits_requests]:
                p = pairs(r)
                logits = ce.predict(p, batch_size=1, show_progress_bar=False)  # unpadded, one pair at a time
                f.write(json.dumps({"query": r["query"], "texts": [t for _, t in p], "logits": [float(x) for x in logits]}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
