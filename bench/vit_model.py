"""A ViT-B/16-sized classifier for `make bench-memory` (issue 24: "a ViT-B/16 is 330 MB of weights"): torchvision's
vit_b_16 with seeded random weights (bench/fullsize_models.py's build), exported to ONNX (opset 17) with its
attention as plain ops (the fast path off, as the zoo's transformers). 346 MB; nothing it writes is committed.
Usage: vit_model.py OUT.onnx     (needs bench/requirements-torch.txt and torchvision)"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fullsize_models import build  # noqa: E402

torch.backends.mha.set_fastpath_enabled(False)
model = build("vit_b_16")
x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
torch.onnx.export(model, x, sys.argv[1], opset_version=17, dynamo=False, input_names=["input"], output_names=["logits"])
