"""Write the peer comparison report for `make bench-peers`.

Reads, for each round, the crossrank bench's crossrank/report.json and each
peer's result JSON (tjs.json, st_torch.json, st_onnx.json), checks PyTorch's
logits against the sidecar's (TEI /rerank with raw_scores, one request per
query) within a tolerance, and writes report.md and report.json. Every
figure in the table is the median over the rounds; each ratio is the median
of the ratios measured within one round, side by side.

usage: peers_report.py --out DIR --round DIR [--round DIR ...]
                       [--target URL --torch-logits FILE.jsonl]
"""

import argparse
import json
import os
import statistics
import sys
import urllib.request


def percentile(xs, q):
    """Linear interpolation between closest ranks (NumPy's default)."""
    s = sorted(xs)
    if not s:
        return float("nan")
    pos = q / 100 * (len(s) - 1)
    lo, hi = int(pos), min(int(pos) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def row(name, lat, pairs, wall):
    return {
        "peer": name,
        "requests": len(lat),
        "pairs": pairs,
        "p50_ms": percentile(lat, 50),
        "p95_ms": percentile(lat, 95),
        "mean_ms": statistics.fmean(lat),
        "pairs_per_s": pairs / wall if wall > 0 else float("nan"),
    }


def our_logits(target, query, texts):
    body = json.dumps({"query": query, "texts": texts, "raw_scores": True, "truncate": True}).encode()
    req = urllib.request.Request(target.rstrip("/") + "/rerank", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        res = json.load(r)
    out = [None] * len(texts)
    for item in res:
        out[item["index"]] = float(item["score"])
    return out


PEER_FILES = ("tjs.json", "st_torch.json", "st_onnx.json")


def read_round(d):
    """The rows of one round: crossrank's (one per concurrency), then the peers'."""
    rep = json.load(open(os.path.join(d, "crossrank", "report.json")))
    ours = []
    for cfg in rep["configs"]:
        ok = [s for s in cfg["samples"] if s.get("status") == 200 and not s.get("error")]
        conc = cfg["config"]["concurrency"]
        name = f"crossrank sidecar ({rep.get('backend', '?')}, {rep.get('device', '?')}), concurrency {conc}"
        r = row(name, [s["latency_ms"] for s in ok], sum(s["pairs"] for s in ok), cfg["elapsed_s"])
        r["batch"], r["concurrency"] = cfg["config"]["batch"], conc
        ours.append(r)
    peers = []
    for f in PEER_FILES:
        path = os.path.join(d, f)
        if os.path.exists(path):
            p = json.load(open(path))
            peers.append(row(p["peer"], p["latencies_ms"], p["pairs"], p["wall_s"]))
    return ours, peers


def median_row(per_round, ref):
    """One contestant over the rounds: medians, the per-round pairs/s, and the
    median of the within-round ratios against ref (crossrank's first row)."""
    out = {"peer": per_round[0]["peer"], "requests": per_round[0]["requests"], "pairs": per_round[0]["pairs"],
           "rounds_pairs_per_s": [r["pairs_per_s"] for r in per_round]}
    for k in ("p50_ms", "p95_ms", "mean_ms", "pairs_per_s"):
        out[k] = statistics.median(r[k] for r in per_round)
    out["speedup"] = statistics.median(o["pairs_per_s"] / r["pairs_per_s"] for o, r in zip(ref, per_round))
    out["p95_ratio"] = statistics.median(r["p95_ms"] / o["p95_ms"] for o, r in zip(ref, per_round))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--round", action="append", required=True, help="a round's folder; repeat per round")
    ap.add_argument("--target")
    ap.add_argument("--torch-logits")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args()

    rounds = [read_round(d) for d in a.round]
    names = [[r["peer"] for r in ours + peers] for ours, peers in rounds]
    if any(n != names[0] for n in names):
        print(f"peers_report: rounds ran different contestants: {names}", file=sys.stderr)
        return 2
    n_ours = len(rounds[0][0])
    ref = [ours[0] for ours, _ in rounds]
    rows = [median_row([(ours + peers)[i] for ours, peers in rounds], ref) for i in range(len(names[0]))]
    ours_rows, peers = rows[:n_ours], rows[n_ours:]
    first = rounds[0][0][0]

    check = None
    if a.target and a.torch_logits:
        worst, n = 0.0, 0
        for line in open(a.torch_logits):
            if not line.strip():
                continue
            r = json.loads(line)
            ours = our_logits(a.target, r["query"], r["texts"])
            for x, y in zip(ours, r["logits"]):
                worst = max(worst, abs(x - y))
                n += 1
        check = {"pairs": n, "max_abs_diff": worst, "tolerance": a.tolerance, "ok": worst <= a.tolerance}

    best = max(peers, key=lambda r: r["pairs_per_s"]) if peers else None
    lines = [
        "# crossrank vs peers",
        "",
        f"_Same requests ({first['requests']} requests of {first['batch']} pairs, synthetic MS MARCO-like), "
        f"same twin weights, same thread count; peers score one request at a time. {len(rounds)} rounds, each "
        f"running every contestant once on the same machine; figures are medians over the rounds, and each ratio "
        f"is the median of the ratios within a round against the first crossrank row (concurrency "
        f"{first['concurrency']}); the sidecar at higher concurrency shares batches across requests._",
        "",
        "| Peer | Requests | Pairs | P50 (ms) | P95 (ms) | Mean (ms) | Pairs/s | Pairs/s per round | crossrank pairs/s ÷ peer | peer P95 ÷ crossrank P95 |",
        "|------|----------|-------|----------|----------|-----------|---------|-------------------|--------------------------|--------------------------|",
    ]
    for r in rows:
        per = ", ".join(f"{x:.1f}" for x in r["rounds_pairs_per_s"])
        lines.append(
            f"| {r['peer']} | {r['requests']} | {r['pairs']} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['mean_ms']:.2f} | "
            f"{r['pairs_per_s']:.1f} | {per} | {r['speedup']:.2f}x | {r['p95_ratio']:.2f}x |"
        )
    lines.append("")
    if best:
        # The goal counts the best crossrank configuration whose P95 is no
        # worse than the best peer's; its speed-up is the median of the
        # within-round ratios.
        eligible = [i for i, r in enumerate(ours_rows) if r["p95_ms"] <= best["p95_ms"]]
        if eligible:
            bi = rows.index(best)
            ratios = {i: statistics.median(
                rd[0][i]["pairs_per_s"] / (rd[0] + rd[1])[bi]["pairs_per_s"] for rd in rounds) for i in eligible}
            top = max(eligible, key=lambda i: ratios[i])
            goal = ratios[top] >= 2
            verdict = f"{'met' if goal else 'NOT met'} by {ours_rows[top]['peer']} ({ratios[top]:.2f}x, median of the rounds)"
        else:
            verdict = "NOT met (no crossrank configuration has an equal or better P95)"
        lines.append(
            f"Best peer: {best['peer']} ({best['pairs_per_s']:.1f} pairs/s, P95 {best['p95_ms']:.2f} ms). "
            f"Goal (≥ 2x its pairs/s at equal or better P95): {verdict}."
        )
        lines.append("")
    if check:
        lines.append(
            f"PyTorch logits vs crossrank logits: {check['pairs']} pairs, max |diff| = {check['max_abs_diff']:.3g} "
            f"(tolerance {check['tolerance']:g}): {'OK' if check['ok'] else 'MISMATCH'}."
        )
        lines.append("")
    with open(f"{a.out}/report.md", "w") as f:
        f.write("\n".join(lines))
    with open(f"{a.out}/report.json", "w") as f:
        json.dump({"rows": rows, "logits_check": check}, f, indent=2)
    print("\n".join(lines))
    return 0 if (check is None or check["ok"]) else 1


if __name__ == "__main__":
    sys.exit(main())
