"""Full-size torchvision classifiers (issue 24: "vit_b_16, swin_t, convnext_tiny, maxvit_t, efficientnet_v2_s,
resnet50, … load and give the same gradients"): builds each with seeded random weights (BatchNorm statistics
randomised as below), exports it to ONNX (opset 17, torch.onnx.export), computes PyTorch autograd input gradients
in float32 and float64, runs `netlens gradient` on the same input and prints each distance
(max|Δ|/max|ref|, L2, share of elements off by more than 1e-3·max).

Usage: fullsize_models.py NETLENS_CLI OUT_DIR [ARCH ...]     (needs bench/requirements-torch.txt and torchvision)
Nothing it writes is committed: OUT_DIR holds the .onnx and .npy files."""
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torchvision

ARCHS = ["resnet50", "convnext_tiny", "vit_b_16", "swin_t", "maxvit_t", "efficientnet_v2_s"]


def build(arch):
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(weights=None)
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        # Untrained BatchNorm is the identity; random statistics make it a real per-channel affine map.
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.1)
    # torchvision starts some layers at zero (ViT's head): random too, so that every logit depends on the input.
    for p in model.parameters():
        if p.dim() >= 2 and not p.detach().any():
            p.data.copy_(torch.randn(p.shape, generator=g) * 0.02)
    return model.eval()


def grad(model, x, k, dtype):
    m = model.to(dtype)
    xi = torch.tensor(x, dtype=dtype, requires_grad=True)
    out = m(xi)
    out[0, k].backward()
    return out.detach().to(torch.float64).numpy(), xi.grad.to(torch.float64).numpy()


def dist(ours, ref):
    scale = np.abs(ref).max()
    d = ours.astype(np.float64) - ref
    return {
        "max": float(np.abs(d).max() / scale),
        "l2": float(np.linalg.norm(d) / np.linalg.norm(ref)),
        "off": float((np.abs(d) > 1e-3 * scale).mean()),
    }


def main():
    cli, out = sys.argv[1], sys.argv[2]
    archs = sys.argv[3:] or ARCHS
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    rows = []
    for arch in archs:
        model = build(arch)
        x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
        onnx_path = os.path.join(out, f"{arch}.onnx")
        if not os.path.exists(onnx_path):
            torch.onnx.export(model, torch.tensor(x), onnx_path, opset_version=17, dynamo=False,
                              input_names=["input"], output_names=["logits"])
        np.save(os.path.join(out, f"{arch}_input.npy"), x)
        logits32, _ = grad(model, x, 0, torch.float32)
        k = int(np.argmax(logits32))
        _, g32 = grad(model, x, k, torch.float32)
        _, g64 = grad(model, x, k, torch.float64)
        ours_path = os.path.join(out, f"{arch}_netlens_{k}.npy")
        run = subprocess.run([cli, "gradient", "--model", onnx_path, "--input-npy", os.path.join(out, f"{arch}_input.npy"),
                              "--class", str(k), "--npy", ours_path], capture_output=True, text=True)
        if run.returncode != 0:
            rows.append({"arch": arch, "error": run.stderr.strip()})
            print(json.dumps(rows[-1]), flush=True)
            continue
        ours = np.load(ours_path).reshape(g64.shape)
        row = {"arch": arch, "class": k, "vs_f32": dist(ours, g32), "netlens_vs_f64": dist(ours, g64),
               "pytorch_f32_vs_f64": dist(g32, g64)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    json.dump(rows, open(os.path.join(out, "results.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
