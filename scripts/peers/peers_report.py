"""Write the peer comparison report for `make bench-peers`.

Reads, for each round, the crossrank bench's crossrank/report.json, each
in-process peer's result JSON (tjs.json, st_torch.json, st_onnx.json) and
each HTTP peer's crossrank bench report (infinity/report.json: the same
client and concurrencies as the sidecar's), checks the peers' scores against
the sidecar's raw scores (TEI /rerank with raw_scores, one request per query)
within a tolerance, and writes report.md and report.json. Every figure in the
table is the median over the rounds; each ratio is the median of the ratios
measured within one round, side by side, against the crossrank row at the
same concurrency (in-process peers score one request at a time: concurrency 1).

A score check (--check LABEL=FILE.jsonl, one {"query", "texts", "logits"[,
"scale"]} line per request; "scale": "sigmoid" compares with the sigmoid of
the sidecar's logits) must match within the tolerance; a negative control
(--negative LABEL=FILE.jsonl: scores of an engine known to be wrong) must
NOT match, which shows the check catches a wrong engine. The exit status is
1 when a check mismatches or a negative control matches.

usage: peers_report.py --out DIR --round DIR [--round DIR ...]
                       [--target URL [--torch-logits FILE.jsonl]
                        [--check LABEL=FILE ...] [--negative LABEL=FILE ...]]
"""

import argparse
import json
import math
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
# HTTP peers driven by crossrank bench like the sidecar: folder in the round.
HTTP_PEERS = ("infinity",)


def bench_rows(path, label):
    """One row per configuration of a crossrank bench report.json; label(rep)
    names the contestant."""
    rep = json.load(open(path))
    rows = []
    for cfg in rep["configs"]:
        ok = [s for s in cfg["samples"] if s.get("status") == 200 and not s.get("error")]
        conc = cfg["config"]["concurrency"]
        r = row(f"{label(rep)}, concurrency {conc}", [s["latency_ms"] for s in ok], sum(s["pairs"] for s in ok),
                cfg["elapsed_s"])
        r["batch"], r["concurrency"] = cfg["config"]["batch"], conc
        rows.append(r)
    return rows


def read_round(d):
    """The rows of one round: crossrank's (one per concurrency), then the
    in-process peers' (concurrency 1), then the HTTP peers' (one per
    concurrency)."""
    ours = bench_rows(os.path.join(d, "crossrank", "report.json"),
                      lambda rep: f"crossrank sidecar ({rep.get('backend', '?')}, {rep.get('device', '?')})")
    peers = []
    for f in PEER_FILES:
        path = os.path.join(d, f)
        if os.path.exists(path):
            p = json.load(open(path))
            r = row(p["peer"], p["latencies_ms"], p["pairs"], p["wall_s"])
            r["concurrency"] = 1
            peers.append(r)
    for h in HTTP_PEERS:
        path = os.path.join(d, h, "report.json")
        if os.path.exists(path):
            peers += bench_rows(path, lambda rep: rep.get("name") or h)
    return ours, peers


def sigmoid(x):
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def score_check(label, path, ours_fn, tolerance, negative=False):
    """Compare a peer's scores (JSONL of {"query", "texts", "logits"[,
    "scale"]}) with ours_fn(query, texts), the sidecar's raw logits, on the
    peer's scale. A negative control passes when the scores do NOT match."""
    worst, n = 0.0, 0
    with open(path) as f:
        for ln, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            if len(r["texts"]) != len(r["logits"]):
                raise ValueError(f"{path}:{ln}: {len(r['texts'])} texts, {len(r['logits'])} scores")
            scale = r.get("scale", "logit")
            if scale not in ("logit", "sigmoid"):
                raise ValueError(f"{path}:{ln}: unknown scale {scale!r}")
            ours = ours_fn(r["query"], r["texts"])
            if scale == "sigmoid":
                ours = [sigmoid(x) for x in ours]
            for x, y in zip(ours, r["logits"]):
                d = abs(x - y)
                worst = d if (d > worst or math.isnan(d)) else worst
                n += 1
    if n == 0:
        raise ValueError(f"{path}: no scores to check")
    match = worst <= tolerance  # NaN never matches
    return {"label": label, "file": path, "pairs": n, "max_abs_diff": worst, "tolerance": tolerance,
            "negative": negative, "match": match, "ok": (not match) if negative else match}


def check_line(c):
    """The report's sentence for one score check."""
    head = (f"{c['label']} vs crossrank logits: {c['pairs']} pairs, max |diff| = {c['max_abs_diff']:.3g} "
            f"(tolerance {c['tolerance']:g}): {'OK' if c['match'] else 'MISMATCH'}")
    if c["negative"]:
        head += (" — expected for a wrong engine: the check catches it." if c["ok"]
                 else " — but this engine is known to be wrong: the check does NOT catch it.")
    else:
        head += "."
    return head


def labelled(spec):
    label, sep, path = spec.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"want LABEL=FILE, got {spec!r}")
    return label, path


def median_row(per_round, ref):
    """One contestant over the rounds: medians, the per-round pairs/s, and the
    median of the within-round ratios against ref (crossrank's row at the
    same concurrency, or its first row)."""
    out = {"peer": per_round[0]["peer"], "requests": per_round[0]["requests"], "pairs": per_round[0]["pairs"],
           "concurrency": per_round[0].get("concurrency"), "vs": ref[0]["peer"],
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
    ap.add_argument("--target", help="the sidecar, for its raw scores in the score checks")
    ap.add_argument("--torch-logits", help='same as --check "PyTorch logits=FILE"')
    ap.add_argument("--check", action="append", type=labelled, default=[], metavar="LABEL=FILE",
                    help="peer scores that must equal the sidecar's within the tolerance")
    ap.add_argument("--negative", action="append", type=labelled, default=[], metavar="LABEL=FILE",
                    help="scores of an engine known to be wrong: the check must reject them")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args()
    if a.torch_logits:
        a.check.insert(0, ("PyTorch logits", a.torch_logits))
    if (a.check or a.negative) and not a.target:
        ap.error("score checks need --target (the sidecar)")

    rounds = [read_round(d) for d in a.round]
    names = [[r["peer"] for r in ours + peers] for ours, peers in rounds]
    if any(n != names[0] for n in names):
        print(f"peers_report: rounds ran different contestants: {names}", file=sys.stderr)
        return 2
    n_ours = len(rounds[0][0])
    concs = [r.get("concurrency") for r in rounds[0][0]]

    def ref_index(i):
        if i < n_ours:
            return 0
        c = (rounds[0][0] + rounds[0][1])[i].get("concurrency")
        return concs.index(c) if c in concs else 0

    rows = [median_row([(ours + peers)[i] for ours, peers in rounds], [ours[ref_index(i)] for ours, _ in rounds])
            for i in range(len(names[0]))]
    ours_rows, peers = rows[:n_ours], rows[n_ours:]
    first = rounds[0][0][0]

    checks = []
    for (label, path), neg in [(c, False) for c in a.check] + [(c, True) for c in a.negative]:
        checks.append(score_check(label, path, lambda q, t: our_logits(a.target, q, t), a.tolerance, negative=neg))

    best = max(peers, key=lambda r: r["pairs_per_s"]) if peers else None
    lines = [
        "# crossrank vs peers",
        "",
        f"_Same requests ({first['requests']} requests of {first['batch']} pairs, synthetic MS MARCO-like), "
        f"same twin weights, same thread count; in-process peers score one request at a time, HTTP servers "
        f"(the sidecar, Infinity) get the same client at each concurrency. {len(rounds)} "
        f"round{'s' if len(rounds) != 1 else ''}, each "
        f"running every contestant once on the same machine; figures are medians over the rounds, and each ratio "
        f"is the median of the ratios within a round against the crossrank row at the same concurrency "
        f"(in-process peers: concurrency 1; else the first row, concurrency {first['concurrency']}); servers "
        f"at higher concurrency share batches across requests._",
        "",
        "| Peer | Requests | Pairs | P50 (ms) | P95 (ms) | Mean (ms) | Pairs/s | Pairs/s per round | crossrank pairs/s ÷ peer (same concurrency) | peer P95 ÷ crossrank P95 |",
        "|------|----------|-------|----------|----------|-----------|---------|-------------------|---------------------------------------------|--------------------------|",
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
    for c in checks:
        lines.append(check_line(c))
        lines.append("")
    with open(f"{a.out}/report.md", "w") as f:
        f.write("\n".join(lines))
    with open(f"{a.out}/report.json", "w") as f:
        json.dump({"rows": rows, "score_checks": checks}, f, indent=2)
    print("\n".join(lines))
    return 0 if all(c["ok"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
