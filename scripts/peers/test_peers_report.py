"""Tests of peers_report.py on hand-made rounds (run by `make test`)."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def write_round(d, ours_lat, ours_wall, torch_lat, torch_wall, pairs=4):
    os.makedirs(os.path.join(d, "crossrank"))
    samples = [{"status": 200, "latency_ms": x, "pairs": pairs} for x in ours_lat]
    samples.append({"status": 500, "latency_ms": 1.0, "pairs": pairs, "error": "boom"})  # not counted
    rep = {"backend": "onnxruntime", "device": "cpu",
           "configs": [{"config": {"batch": pairs, "concurrency": 1}, "samples": samples, "elapsed_s": ours_wall}]}
    json.dump(rep, open(os.path.join(d, "crossrank", "report.json"), "w"))
    json.dump({"peer": "torch", "latencies_ms": torch_lat, "pairs": pairs * len(torch_lat), "wall_s": torch_wall},
              open(os.path.join(d, "st_torch.json"), "w"))


class PeersReport(unittest.TestCase):
    def run_report(self, rounds):
        out = tempfile.mkdtemp()
        args = [sys.executable, os.path.join(HERE, "peers_report.py"), "--out", out]
        for i, r in enumerate(rounds):
            d = os.path.join(out, f"round{i}")
            write_round(d, *r)
            args += ["--round", d]
        subprocess.run(args, check=True, capture_output=True)
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


if __name__ == "__main__":
    unittest.main()
