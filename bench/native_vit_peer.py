#!/usr/bin/env python3
"""Native peer for `make bench`'s ViT-B/16 rows (issue 24): onnxruntime (CPU) forward of the ViT on the input the
netlens bench used (test_data_set_0/input_0.npy), at 1 and 2 threads, the thread counts taking turns run by run.
Its logits are checked against netlens's (the file `cargo bench --bench engine` writes when NETLENS_BENCH_VIT_LOGITS
is set) before its time is trusted: top-1 equal and max |Δ| ≤ 1e-3 × max |logit|, as bench/report.mjs checks them.
Usage: native_vit_peer.py MODEL.onnx NETLENS_LOGITS.json   (BENCH_VIT_NATIVE_RUNS timed runs after 1 warm-up)
Prints one JSON object on stdout, in bench/native_peers.py's style."""
import json
import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

RUNS = max(1, int(os.environ.get("BENCH_VIT_NATIVE_RUNS", "5")))
THREADS = (1, 2)


def shared_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("NETLENS_SHARED") or os.path.join(here, "..", "..", "shared")


def main():
    model, netlens_file = sys.argv[1], sys.argv[2]
    out = {"onnxruntime": ort.__version__, "model": model, "runs": RUNS, "warmup": 1, "results": {}}
    if not os.path.isfile(model):
        out["error"] = f"{model} is missing"
        json.dump(out, sys.stdout)
        print()
        return
    x = np.load(os.path.join(shared_dir(), "models", "reference", "test_data_set_0", "input_0.npy")).astype(np.float32)
    ours = None
    if os.path.isfile(netlens_file):
        with open(netlens_file) as f:
            ours = np.asarray(json.load(f)["logits"], dtype=np.float32)
    else:
        out["netlens_logits"] = f"{netlens_file} is missing (the native netlens ViT rows did not run): not checked"
    sessions = {}
    for threads in THREADS:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        start = time.perf_counter()
        session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        create_ms = (time.perf_counter() - start) * 1e3
        name = session.get_inputs()[0].name
        got = session.run(None, {name: x})[0].reshape(-1)  # also the warm-up
        r = {"create_ms": create_ms, "top1": int(np.argmax(got))}
        if ours is not None:
            r.update({
                "max_abs_err_vs_netlens": float(np.max(np.abs(got - ours))) if got.shape == ours.shape else None,
                "netlens_max_abs": float(np.max(np.abs(ours))),
                "top1_netlens": int(np.argmax(ours)),
            })
        out["results"][f"threads{threads}"] = r
        sessions[threads] = (session, name)
    ms = {t: [] for t in THREADS}
    for _ in range(RUNS):
        for t, (session, name) in sessions.items():
            start = time.perf_counter()
            session.run(None, {name: x})
            ms[t].append((time.perf_counter() - start) * 1e3)
    for t in THREADS:
        out["results"][f"threads{t}"]["forward"] = {"median": statistics.median(ms[t]), "min": min(ms[t]), "runs": RUNS}
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
