#!/usr/bin/env python3
"""Native peer for `make bench`: onnxruntime (CPU) forward of the same model on the same input, 1 and 2 threads.
Prints one JSON object on stdout; bench/report.mjs puts it in the table. Needs `onnxruntime` and `numpy`
(bench/bench.mk installs them into bench/.venv)."""
import json
import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

WARMUP = 5
RUNS = int(os.environ.get("BENCH_RUNS", "20"))


def shared_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("NETLENS_SHARED") or os.path.join(here, "..", "..", "shared")


def timed(fn):
    for _ in range(WARMUP):
        fn()
    ms = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - start) * 1e3)
    return {"median": statistics.median(ms), "min": min(ms), "runs": RUNS}


def main():
    models = os.path.join(shared_dir(), "models")
    ref = os.path.join(models, "reference", "test_data_set_0")
    x = np.load(os.path.join(ref, "input_0.npy")).astype(np.float32)
    want = np.load(os.path.join(ref, "output_0.npy")).astype(np.float32)
    out = {"onnxruntime": ort.__version__, "results": {}}
    for threads in (1, 2):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(os.path.join(models, "squeezenet1_1.onnx"), opts,
                                       providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        got = session.run(None, {name: x})[0]
        # Checked before its time is trusted: a peer computing something else would make the ratio meaningless.
        err = float(np.max(np.abs(got - want)))
        out["results"][f"threads{threads}"] = {
            "forward": timed(lambda: session.run(None, {name: x})),
            "max_abs_err_vs_reference": err,
            "reference_max_abs": float(np.max(np.abs(want))),
            "top1": int(np.argmax(got)),
            "top1_reference": int(np.argmax(want)),
        }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
