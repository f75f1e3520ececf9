"""Tests of peers_report.py on hand-made rounds and recorded scores (run by `make test`)."""

import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peers_report  # noqa: E402


def write_round(d, ours_lat, ours_wall, torch_lat, torch_wall, pairs=4):
    os.makedirs(os.path.join(d, "crossrank"))
    samples = [{"status": 200, "latency_ms": x, "pairs": pairs} for x in ours_lat]
    samples.append({"status": 500, "latency_ms": 1.0, "pairs": pairs, "error": "boom"})  # not counted
    rep = {"backend": "onnxruntime", "device": "cpu",
           "configs": [{"config": {"batch": pairs, "concurrency": 1}, "samples": samples, "elapsed_s": ours_wall}]}
    json.dump(rep, open(os.path.join(d, "crossrank", "report.json"), "w"))
    json.dump({"peer": "torch", "latencies_ms": torch_lat, "pairs": pairs * len(torch_lat), "wall_s": torch_wall},
              open(os.path.join(d, "st_torch.json"), "w"))


def bench_report(path, name, configs, pairs=4):
    """A crossrank bench report.json: configs = [(concurrency, latencies, wall)]."""
    os.makedirs(path)
    rep = {"name": name, "backend": "onnxruntime", "device": "cpu", "configs": [
        {"config": {"batch": pairs, "concurrency": c},
         "samples": [{"status": 200, "latency_ms": x, "pairs": pairs} for x in lat], "elapsed_s": wall}
        for c, lat, wall in configs]}
    json.dump(rep, open(os.path.join(path, "report.json"), "w"))


class PeersReport(unittest.TestCase):
    def run_report(self, rounds, extra=None):
        out = tempfile.mkdtemp()
        args = [sys.executable, os.path.join(HERE, "peers_report.py"), "--out", out]
        for i, r in enumerate(rounds):
            d = os.path.join(out, f"round{i}")
            write_round(d, *r[:4])
            if len(r) > 4:  # an HTTP peer's crossrank bench report
                bench_report(os.path.join(d, "infinity"), "Infinity 0.0.78 (torch engine, HTTP)", r[4])
            if len(r) > 5:  # more crossrank concurrencies
                rep = json.load(open(os.path.join(d, "crossrank", "report.json")))
                for c, lat, wall in r[5]:
                    rep["configs"].append({"config": {"batch": 4, "concurrency": c}, "elapsed_s": wall,
                                           "samples": [{"status": 200, "latency_ms": x, "pairs": 4} for x in lat]})
                json.dump(rep, open(os.path.join(d, "crossrank", "report.json"), "w"))
            args += ["--round", d]
        subprocess.run(args + (extra or []), check=True, capture_output=True)
        return json.load(open(os.path.join(out, "report.json"))), open(os.path.join(out, "report.md")).read()

    def test_medians_and_within_round_ratios(self):
        # 4 requests x 4 pairs per round. Round ratios of pairs/s:
        # (16/1)/(16/4) = 4, (16/2)/(16/3) = 1.5, (16/1)/(16/2) = 2 -> median 2.
        rep, md = self.run_report([
            ([10, 20, 30, 40], 1.0, [100, 200, 300, 400], 4.0),
            ([10, 20, 30, 40], 2.0, [100, 200, 300, 400], 3.0),
            ([10, 20, 30, 40], 1.0, [100, 200, 300, 400], 2.0),
        ])
        ours, torch = rep["rows"]
        self.assertEqual(ours["pairs"], 16)  # the failed sample is not counted
        self.assertEqual(ours["rounds_pairs_per_s"], [16.0, 8.0, 16.0])
        self.assertAlmostEqual(ours["pairs_per_s"], 16.0)
        self.assertAlmostEqual(torch["pairs_per_s"], 16 / 3)
        self.assertAlmostEqual(torch["speedup"], 2.0)
        self.assertAlmostEqual(ours["p50_ms"], 25.0)
        self.assertAlmostEqual(ours["p95_ms"], 38.5)
        self.assertAlmostEqual(torch["p95_ratio"], 10.0)
        self.assertIn("met by crossrank sidecar (onnxruntime, cpu), concurrency 1 (2.00x", md)

    def test_goal_not_met(self):
        rep, md = self.run_report([([10, 20], 1.0, [100, 200], 1.5), ([10, 20], 1.0, [100, 200], 1.9)])
        self.assertLess(rep["rows"][1]["speedup"], 2)
        self.assertIn("NOT met", md)

    def test_worse_p95_is_not_eligible(self):
        _, md = self.run_report([([900, 1000], 1.0, [10, 20], 4.0)])
        self.assertIn("NOT met (no crossrank configuration has an equal or better P95)", md)

    def test_http_peer_compared_at_its_concurrency(self):
        # crossrank: c1 16 pairs in 1 s, c4 16 pairs in 0.5 s; Infinity: c1
        # 16 in 4 s, c4 16 in 2 s -> 4x at both concurrencies, although
        # Infinity at c4 (8 pairs/s) is faster than PyTorch (4 pairs/s).
        lat = [10, 20, 30, 40]
        rnd = (lat, 1.0, [100, 200, 300, 400], 4.0, [(1, [50, 60, 70, 80], 4.0), (4, [50, 60, 70, 80], 2.0)],
               [(4, lat, 0.5)])
        rep, md = self.run_report([rnd])
        names = [r["peer"] for r in rep["rows"]]
        self.assertEqual(names, [
            "crossrank sidecar (onnxruntime, cpu), concurrency 1",
            "crossrank sidecar (onnxruntime, cpu), concurrency 4",
            "torch",
            "Infinity 0.0.78 (torch engine, HTTP), concurrency 1",
            "Infinity 0.0.78 (torch engine, HTTP), concurrency 4",
        ])
        by = {r["peer"]: r for r in rep["rows"]}
        self.assertAlmostEqual(by["torch"]["speedup"], 4.0)  # against concurrency 1
        self.assertEqual(by["torch"]["vs"], names[0])
        inf1, inf4 = by[names[3]], by[names[4]]
        self.assertAlmostEqual(inf1["speedup"], 4.0)
        self.assertEqual(inf1["vs"], names[0])
        self.assertAlmostEqual(inf4["pairs_per_s"], 8.0)
        self.assertAlmostEqual(inf4["speedup"], 4.0)  # 32 / 8, against concurrency 4
        self.assertEqual(inf4["vs"], names[1])
        # Best peer: Infinity at concurrency 4 (8 pairs/s, P95 78.5 ms);
        # both crossrank rows have P95 38.5 ms; the best ratio is 32 / 8.
        self.assertIn("Best peer: Infinity 0.0.78 (torch engine, HTTP), concurrency 4 (8.0 pairs/s", md)
        self.assertIn("met by crossrank sidecar (onnxruntime, cpu), concurrency 4 (4.00x", md)

    def test_checks_need_the_sidecar(self):
        out = tempfile.mkdtemp()
        d = os.path.join(out, "round1")
        write_round(d, [10], 1.0, [100], 1.0)
        p = subprocess.run([sys.executable, os.path.join(HERE, "peers_report.py"), "--out", out, "--round", d,
                            "--check", "x=/nonexistent"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("score checks need --target", p.stderr)


def write_scores(lines):
    path = tempfile.mktemp(suffix=".jsonl")
    with open(path, "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    return path


class ScoreCheck(unittest.TestCase):
    OURS = {"q": [2.0, -1.0, 0.5]}

    def ours(self, q, texts):
        self.assertEqual(texts, ["a", "b", "c"])
        return self.OURS[q]

    def check(self, logits, scale=None, negative=False):
        line = {"query": "q", "texts": ["a", "b", "c"], "logits": logits}
        if scale:
            line["scale"] = scale
        return peers_report.score_check("peer", write_scores([line]), self.ours, 1e-4, negative=negative)

    def test_cases(self):
        sig = [1 / (1 + math.exp(-x)) for x in self.OURS["q"]]
        cases = [
            # name, logits, scale, negative, want match, want ok
            ("equal logits", [2.00005, -1.0, 0.5], None, False, True, True),
            ("past tolerance", [2.0, -1.0002, 0.5], None, False, False, False),
            ("sigmoid scale compared as sigmoid", sig, "sigmoid", False, True, True),
            ("sigmoid scores read as logits", sig, None, False, False, False),
            ("NaN never matches", [float("nan"), -1.0, 0.5], None, False, False, False),
            ("negative control caught", [1.1, -0.2, 0.9], None, True, False, True),
            ("negative control not caught", [2.0, -1.0, 0.5], None, True, True, False),
        ]
        for name, logits, scale, neg, match, ok in cases:
            with self.subTest(name):
                c = self.check(logits, scale, neg)
                self.assertEqual((c["match"], c["ok"], c["pairs"]), (match, ok, 3))
                line = peers_report.check_line(c)
                self.assertIn("OK" if match else "MISMATCH", line)
                if neg:
                    self.assertIn("catches it" if ok else "does NOT catch it", line)

    def test_recorded_infinity_engines(self):
        # Real scores of one request (testdata, recorded_with inside): the
        # sidecar's raw logits, Infinity's torch engine (same logits) and its
        # optimum engine, which drops token_type_ids (wrong logits).
        g = json.load(open(os.path.join(HERE, "testdata", "infinity_twin_scores.json")))

        def ours(q, texts):
            self.assertEqual((q, texts), (g["query"], g["texts"]))
            return g["sidecar_logits"]

        def file(key):
            return write_scores([{"query": g["query"], "texts": g["texts"], "logits": g[key]}])

        good = peers_report.score_check("torch", file("infinity_torch_logits"), ours, 1e-4)
        self.assertTrue(good["match"] and good["ok"], good)
        self.assertEqual(good["pairs"], len(g["texts"]))
        bad = peers_report.score_check("optimum", file("infinity_optimum_logits"), ours, 1e-4, negative=True)
        self.assertFalse(bad["match"], bad)
        self.assertTrue(bad["ok"], bad)
        self.assertGreater(bad["max_abs_diff"], 0.1)
        # The same wrong scores as an ordinary check fail it.
        self.assertFalse(peers_report.score_check("optimum", file("infinity_optimum_logits"), ours, 1e-4)["ok"])

    def test_bad_files(self):
        for name, lines, msg in [
            ("length", [{"query": "q", "texts": ["a", "b", "c"], "logits": [1.0]}], "3 texts, 1 scores"),
            ("scale", [{"query": "q", "texts": ["a", "b", "c"], "logits": [1, 2, 3], "scale": "softmax"}],
             "unknown scale"),
            ("empty", [], "no scores"),
        ]:
            with self.subTest(name), self.assertRaisesRegex(ValueError, msg):
                peers_report.score_check("peer", write_scores(lines), self.ours, 1e-4)


if __name__ == "__main__":
    unittest.main()
