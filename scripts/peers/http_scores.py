"""Fetch a reranking server's scores for the peer score check of `make bench-peers`.

Sends the first N bench requests, one request per query, to a server with a
Cohere-style `POST {target}/v1/rerank` ({"model", "query", "documents"} in,
{"results": [{"index", "relevance_score"}]} out, as Infinity serves it) and
writes one JSON line per request: {"query", "texts", "logits"} with the
scores in document order, and "scale": "logit" when raw scores were asked
for ("raw_scores": true, Infinity's switch) or "sigmoid" when not (Infinity
applies a sigmoid by default). peers_report.py compares the lines with the
sidecar's raw scores on the same scale.

Standard library only: it runs with any python3.

usage: http_scores.py --target URL --requests REQ.jsonl --out FILE.jsonl
                      [--model NAME] [--n 4] [--sigmoid]
"""

import argparse
import json
import sys
import urllib.error
import urllib.request


def doc_text(d):
    """A bench request's document: a string or an object with "text"."""
    if isinstance(d, str):
        return d
    if isinstance(d, dict) and isinstance(d.get("text"), str):
        return d["text"]
    raise ValueError(f"document is neither a string nor {{\"text\": ...}}: {d!r:.80}")


def rerank(target, model, query, texts, raw=True, timeout=120):
    """Scores of texts for query from target's /v1/rerank, in document order."""
    body = {"query": query, "documents": texts, "raw_scores": raw, "return_documents": False}
    if model:
        body["model"] = model
    req = urllib.request.Request(target.rstrip("/") + "/v1/rerank", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            res = json.load(r)
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"POST {req.full_url}: HTTP {e.code}: {e.read()[:300]!r}") from e
    results = res.get("results") if isinstance(res, dict) else None
    if not isinstance(results, list) or len(results) != len(texts):
        raise RuntimeError(f"POST {req.full_url}: want {len(texts)} results, got {str(res)[:300]}")
    out = [None] * len(texts)
    for item in results:
        i = item.get("index") if isinstance(item, dict) else None
        s = item.get("relevance_score") if isinstance(item, dict) else None
        if not isinstance(i, int) or not 0 <= i < len(texts) or out[i] is not None or not isinstance(s, (int, float)):
            raise RuntimeError(f"POST {req.full_url}: malformed result {item!r:.200}")
        out[i] = float(s)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", required=True, help="server base URL, e.g. http://127.0.0.1:18090")
    ap.add_argument("--requests", required=True, help="bench requests (crossrank bench --write-requests)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="", help='"model" field of each request')
    ap.add_argument("--n", type=int, default=4, help="score the first N requests")
    ap.add_argument("--sigmoid", action="store_true", help="ask for the server's default (sigmoid) scores, not raw logits")
    a = ap.parse_args()
    if a.n < 1:
        ap.error("--n must be at least 1")

    reqs = []
    with open(a.requests) as f:
        for ln, line in enumerate(f, 1):
            if line.strip():
                r = json.loads(line)
                if not isinstance(r, dict) or not isinstance(r.get("query"), str) or not isinstance(r.get("documents"), list):
                    print(f"http_scores: {a.requests}:{ln}: want {{\"query\": str, \"documents\": [...]}}", file=sys.stderr)
                    return 2
                reqs.append(r)
            if len(reqs) == a.n:
                break
    with open(a.out, "w") as f:
        for r in reqs:
            texts = [doc_text(d) for d in r["documents"]]
            scores = rerank(a.target, a.model, r["query"], texts, raw=not a.sigmoid)
            line = {"query": r["query"], "texts": texts, "logits": scores, "scale": "sigmoid" if a.sigmoid else "logit"}
            f.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
