#!/usr/bin/env python3
"""`make bench-batch` (issue 30): throughput of a 200-image folder, in one run on one machine.

- Per core: `netlens batch --threads 1` (the whole CLI process: model load, decode, method, PNG + .npy outputs,
  tables) against PyTorch + Captum with torch.set_num_threads(1) on the same ONNX weights (bench/pytorch_classviz.py's
  op-by-op module), decode and preprocessing with PIL, the map saved as .npy; saliency (captum.attr.Saliency) and
  Integrated Gradients (captum.attr.IntegratedGradients, zero baseline, 32 steps, trapezoid rule, as netlens's IG).
  Captum evaluates IG's 32 points as one batch (its default), netlens one point after another.
- Ray: netlens.ray_batch with 1 and with 2 single-threaded workers on a local 2-CPU Ray cluster (saliency).
- Memory: the CLI's RSS after 20 and after 200 images (from /proc, while its journal grows).

Prints a Markdown table and writes bench/out/batch.json. Needs the netlens wheel, torch, onnx, captum and ray in
the venv it runs in (bench/bench.mk's bench-batch sets that up). Peers that cannot run say "not run".
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = Path(os.environ.get("NETLENS_SHARED", ROOT.parent / "shared"))
MODEL = SHARED / "models" / "squeezenet1_1.onnx"
CLI = Path(os.environ.get("NETLENS_BIN", ROOT / "target" / "release" / "netlens"))
OUT = Path(os.environ.get("BENCH_OUT", HERE / "out"))
N = int(os.environ.get("BENCH_BATCH_IMAGES", "200"))
IG_STEPS = 32


def folder(n):
    """n images: the shared samples repeated, each copy mirrored or not (so copies are not byte-identical)."""
    from PIL import Image, ImageOps

    dst = OUT / "batch-images"
    if dst.is_dir() and len(list(dst.iterdir())) == n:
        return dst
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    samples = sorted(p for p in (SHARED / "images").iterdir() if p.suffix in (".png", ".jpg"))
    for i in range(n):
        src = samples[i % len(samples)]
        im = Image.open(src).convert("RGB")
        if (i // len(samples)) % 2:
            im = ImageOps.mirror(im)
        im.save(dst / f"{i:04d}-{src.stem}.png")
    return dst


def rss_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def netlens_cli(images, method, settings=()):
    """Seconds for the whole batch, and the RSS (kB) when 20 and when all images were done."""
    out = Path(tempfile.mkdtemp(prefix="netlens-bench-batch-"))
    args = [str(CLI), "--threads", "1", "batch", "--method", method, "--images", str(images), "--out", str(out / "o")]
    for s in settings:
        args += ["--set", s]
    start = time.perf_counter()
    p = subprocess.Popen(args + ["--model", str(MODEL)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rss, journal = {}, out / "o" / "journal.jsonl"
    while p.poll() is None:
        try:
            done = journal.read_bytes().count(b"\n")
        except OSError:
            done = 0
        for mark in (20, N - 1):
            if mark not in rss and done >= mark:
                rss[mark] = rss_kb(p.pid)
        time.sleep(0.01)
    seconds = time.perf_counter() - start
    if p.returncode != 0:
        raise RuntimeError(f"netlens batch failed ({p.returncode})")
    shutil.rmtree(out)
    return seconds, rss


def torch_captum(images, method):
    import numpy as np
    import torch
    from captum.attr import IntegratedGradients, Saliency
    from PIL import Image

    sys.path.insert(0, str(HERE))
    from pytorch_classviz import OnnxModule

    torch.set_num_threads(1)
    model = OnnxModule(str(MODEL)).eval()
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    explain = Saliency(model) if method == "saliency" else IntegratedGradients(model)
    out = Path(tempfile.mkdtemp(prefix="captum-bench-"))
    files = sorted(images.iterdir())
    start = time.perf_counter()
    for f in files:
        im = Image.open(f).convert("RGB")
        w, h = im.size
        s = 256 / min(w, h)
        im = im.resize((max(256, int(w * s)), max(256, int(h * s))), Image.BILINEAR)
        left, top = (im.width - 224) // 2, (im.height - 224) // 2
        x = (np.asarray(im.crop((left, top, left + 224, top + 224)), np.float32) / 255 - mean) / std
        x = torch.from_numpy(x.transpose(2, 0, 1).copy())[None].requires_grad_()
        with torch.no_grad():
            k = int(model(x).argmax())
        if method == "saliency":
            a = explain.attribute(x, target=k).amax(1)
        else:
            a = explain.attribute(x, baselines=0 * x, target=k, n_steps=IG_STEPS, method="riemann_trapezoid")
        np.save(out / f"{f.stem}.npy", a.detach().numpy())
    seconds = time.perf_counter() - start
    shutil.rmtree(out)
    return seconds


def ray_workers(images, workers):
    import ray

    from netlens import ray_batch

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        out = Path(tempfile.mkdtemp(prefix="ray-bench-"))
        start = time.perf_counter()
        ray_batch.run(images, out, ["saliency"], model_path=str(MODEL), workers=workers, batch_size=8)
        seconds = time.perf_counter() - start
        shutil.rmtree(out)
        return seconds
    finally:
        ray.shutdown()


def attempt(f, *args):
    try:
        return f(*args)
    except Exception as e:  # a peer that cannot run is a row that says so, not a failed bench
        print(f"bench-batch: {f.__name__}{args[1:]}: {type(e).__name__}: {e}", file=sys.stderr)
        return None


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    images = folder(N)
    load = os.getloadavg()
    res = {"images": N, "cores": os.cpu_count(), "load_before": load, "rows": {}}
    rows = res["rows"]
    for method, sets in [("saliency", ()), ("ig", (f"steps={IG_STEPS}",))]:
        got = attempt(netlens_cli, images, method, sets)
        if got:
            rows[f"netlens {method}"] = {"seconds": got[0], "rss_kb": got[1]}
        rows[f"captum {method}"] = {"seconds": attempt(torch_captum, images, method)}
    for w in (1, 2):
        rows[f"ray saliency {w} worker(s)"] = {"seconds": attempt(ray_workers, images, w)}
    res["load_after"] = os.getloadavg()
    (OUT / "batch.json").write_text(json.dumps(res, indent=2))

    def ips(key):
        s = rows.get(key, {}).get("seconds")
        return N / s if s else None

    def fmt(v, unit=""):
        return "not run" if v is None else f"{v:.2f}{unit}"

    print(f"| {N} images, 1 thread each | images/s | ratio | goal |")
    print("| --- | --- | --- | --- |")
    for m in ("saliency", "ig"):
        a, b = ips(f"netlens {m}"), ips(f"captum {m}")
        ratio = a / b if a and b else None
        print(f"| netlens {m} | {fmt(a)} | {fmt(ratio, '×')} of Captum | ≥ 1.5× |")
        print(f"| PyTorch + Captum {m} | {fmt(b)} | | |")
    one, two = ips("ray saliency 1 worker(s)"), ips("ray saliency 2 worker(s)")
    print(f"| Ray saliency, 1 worker | {fmt(one)} | | |")
    print(f"| Ray saliency, 2 workers | {fmt(two)} | {fmt(two / one if one and two else None, '×')} of 1 worker | ≥ 1.8× |")
    rss = rows.get("netlens saliency", {}).get("rss_kb", {})
    r20, rN = rss.get(20), rss.get(N - 1)
    print(f"| CLI RSS at image 20 → {N} (saliency) | {fmt(r20 and r20 / 1024, ' MB')} → {fmt(rN and rN / 1024, ' MB')} | "
          f"{fmt(rN / r20 if r20 and rN else None, '×')} | ≤ 1.1× |")
    print(f"\nload average before {load[0]:.1f}, after {res['load_after'][0]:.1f} on {res['cores']} cores")


if __name__ == "__main__":
    main()
