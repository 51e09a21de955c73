#!/usr/bin/env python3
"""Native class-visualization peer for `make bench` (issue 13): the CLI's default 100-iteration class visualization
(`netlens classviz --class 76`) against the same loop in PyTorch CPU on the same weights, at 1 and 2 threads.

PyTorch runs the model file itself: a small interpreter maps each ONNX node of SqueezeNet 1.1 to its torch.nn.functional
call (no torchvision, no name mapping), checked against the shared reference output before its time is trusted. The
loop is the CS231n one the CLI implements (src/methods/classviz.rs): jitter by a random roll of up to 16 px, score of
class 76 minus λ‖I‖², step lr · g / ‖g‖, roll back, clamp to the normalised pixel range, Gaussian blur every 10
iterations. PyTorch's time is the loop alone (model built, one warm-up run); netlens's is the whole CLI process (model
load, PNG written), so the ratio is conservative for netlens. Runs alternate between the peers and thread counts.
Prints one JSON object; bench/report.mjs puts it in the table. Needs torch, onnx and numpy (bench/bench.mk installs
them into bench/.venv when `make bench` runs).
"""
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

ITERS = 100
CLASS = 76
LR, L2, BLUR_EVERY, BLUR_SIGMA, JITTER = 25.0, 1e-3, 10, 0.5, 16
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
RUNS = int(os.environ.get("BENCH_VIZ_RUNS", "5"))


def here(*parts):
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), *parts)


def shared_dir():
    return os.environ.get("NETLENS_SHARED") or here("..", "..", "shared")


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def symmetric(pads):
    half = len(pads) // 2
    if list(pads[:half]) != list(pads[half:]):
        raise ValueError(f"asymmetric pads {pads}")
    return tuple(pads[:half])


class OnnxModule(torch.nn.Module):
    """The ONNX graph run op by op with torch.nn.functional (the ops SqueezeNet 1.1 uses)."""

    def __init__(self, path):
        super().__init__()
        model = onnx.load(path)
        self.weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
        self.nodes = list(model.graph.node)
        self.input = model.graph.input[0].name
        self.output = model.graph.output[0].name

    def forward(self, x):
        env = dict(self.weights)
        env[self.input] = x
        for node in self.nodes:
            a, ins = attrs(node), [env[i] for i in node.input if i]
            if node.op_type == "Conv":
                y = F.conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None, stride=tuple(a.get("strides", (1, 1))),
                             padding=symmetric(a.get("pads", (0, 0, 0, 0))), dilation=tuple(a.get("dilations", (1, 1))),
                             groups=a.get("group", 1))
            elif node.op_type == "Relu":
                y = F.relu(ins[0])
            elif node.op_type == "MaxPool":
                y = F.max_pool2d(ins[0], tuple(a["kernel_shape"]), stride=tuple(a.get("strides", (1, 1))),
                                 padding=symmetric(a.get("pads", (0, 0, 0, 0))), ceil_mode=bool(a.get("ceil_mode", 0)))
            elif node.op_type == "Concat":
                y = torch.cat(ins, dim=a["axis"])
            elif node.op_type == "GlobalAveragePool":
                y = ins[0].mean(dim=(2, 3), keepdim=True)
            elif node.op_type == "Flatten":
                y = torch.flatten(ins[0], a.get("axis", 1))
            elif node.op_type == "Dropout":
                y = ins[0]
            else:
                raise ValueError(f"op {node.op_type} is not in this peer's interpreter")
            env[node.output[0]] = y
        return env[self.output]


def gaussian_blur(img, sigma):
    radius = max(1, math.ceil(4 * sigma))
    xs = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-xs * xs / (2 * sigma * sigma))
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    img = F.conv2d(F.pad(img, (radius, radius, 0, 0), mode="replicate"), k, groups=3)
    return F.conv2d(F.pad(img, (0, 0, radius, radius), mode="replicate"), k.transpose(2, 3), groups=3)


def class_visualization(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    img = torch.randn(1, 3, 224, 224, generator=gen)
    low, high = (0 - MEAN) / STD, (1 - MEAN) / STD
    for t in range(ITERS):
        ox, oy = (int(v) for v in torch.randint(0, JITTER + 1, (2,), generator=gen))
        rolled = torch.roll(img, shifts=(oy, ox), dims=(2, 3)).requires_grad_(True)
        model(rolled)[0, CLASS].backward()
        with torch.no_grad():
            g = rolled.grad - 2 * L2 * rolled
            norm = g.norm()
            stepped = rolled + (LR / norm) * g if norm > 0 else rolled
            img = torch.roll(stepped, shifts=(-oy, -ox), dims=(2, 3))
            img = torch.max(torch.min(img, high), low)
            if t % BLUR_EVERY == 0:
                img = gaussian_blur(img, BLUR_SIGMA)
    return img


def netlens_cli():
    return os.environ.get("NETLENS_CLI") or here("..", "target", "release", "netlens")


def main():
    models = os.path.join(shared_dir(), "models")
    model = OnnxModule(os.path.join(models, "squeezenet1_1.onnx"))
    ref = os.path.join(models, "reference", "test_data_set_0")
    x = torch.from_numpy(np.load(os.path.join(ref, "input_0.npy")).astype(np.float32))
    want = np.load(os.path.join(ref, "output_0.npy")).astype(np.float32)
    with torch.no_grad():
        got = model(x).numpy()
    out = {
        "torch": torch.__version__,
        "iters": ITERS,
        "runs": RUNS,
        # Checked before its time is trusted: a peer computing something else would make the ratio meaningless.
        "max_abs_err_vs_reference": float(np.max(np.abs(got - want))),
        "reference_max_abs": float(np.max(np.abs(want))),
        "results": {},
    }
    # The loop does what it should: the class score of the grown image far above the noise's.
    grown = class_visualization(model)
    with torch.no_grad():
        noise = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
        out["class_score_noise"] = float(model(noise)[0, CLASS])
        out["class_score_after"] = float(model(grown)[0, CLASS])
    cli = netlens_cli()
    times = {f"{peer}{t}": [] for peer in ("pytorch", "netlens") for t in (1, 2)}
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "viz.png")
        for t in (1, 2):  # warm-up: torch's first backward allocates; the CLI's first run reads the file cold
            torch.set_num_threads(t)
            class_visualization(model)
            subprocess.run([cli, "--threads", str(t), "classviz", "--class", str(CLASS), "-o", png], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(RUNS):
            for t in (1, 2):
                torch.set_num_threads(t)
                start = time.perf_counter()
                class_visualization(model)
                times[f"pytorch{t}"].append(time.perf_counter() - start)
                start = time.perf_counter()
                subprocess.run([cli, "--threads", str(t), "classviz", "--class", str(CLASS), "-o", png], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times[f"netlens{t}"].append(time.perf_counter() - start)
    for t in (1, 2):
        py, nl = statistics.median(times[f"pytorch{t}"]), statistics.median(times[f"netlens{t}"])
        out["results"][f"threads{t}"] = {
            "pytorch_s": {"median": py, "min": min(times[f"pytorch{t}"])},
            "netlens_cli_s": {"median": nl, "min": min(times[f"netlens{t}"])},
            "ratio": nl / py,
        }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
