"""profile_ops.py — where a model run's time goes, by ONNX operator type.

Runs one ONNX graph on ONNX Runtime's CPU provider (the Python wheel in
.cache/venv-convert; the sidecar uses the same kernels through the C API)
with one intra-op thread and the sidecar's session settings (every graph
optimiser but AttentionFusion, see models/ort), on random ids of one batch
shape, with ONNX Runtime's profiler on; prints the share of kernel time per
operator type and the run's CPU time per call. `make profile-ops`.

    python scripts/models/profile_ops.py MODEL.onnx --batch 16 --length 72
"""
import argparse
import collections
import json
import os
import tempfile
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--length", type=int, default=72)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ops")
    s = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"], disabled_optimizers=["AttentionFusion"])
    rng = np.random.default_rng(1)
    shape = (a.batch, a.length)
    feeds = {}
    for i in s.get_inputs():
        if i.name == "input_ids":
            feeds[i.name] = rng.integers(1000, 20000, shape, dtype=np.int64)
        elif i.name == "attention_mask":
            feeds[i.name] = np.ones(shape, dtype=np.int64)
        else:
            feeds[i.name] = np.zeros(shape, dtype=np.int64)
    for _ in range(3):
        s.run(None, feeds)
    t = time.process_time()
    for _ in range(a.runs):
        s.run(None, feeds)
    cpu_ms = (time.process_time() - t) / a.runs * 1000
    events = json.load(open(s.end_profiling()))
    per_op, total = collections.Counter(), 0
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"]
            total += e["dur"]
    print(f"{a.model}: batch {a.batch} x {a.length} tokens, 1 thread, {cpu_ms:.1f} ms CPU per run")
    print("| operator | share of kernel time |")
    print("|---|---|")
    for op, us in per_op.most_common():
        if us / total >= 0.001:
            print(f"| {op} | {100 * us / total:.1f}% |")


if __name__ == "__main__":
    main()
