"""A ~105 MB ONNX classifier for `make bench-memory` (issue 11: "a 100 MB model (ResNet-50 size) loads in the
page"): SqueezeNet 1.1 from ../shared with a MatMul [1000 → 25000] (100 MB of seeded random weights) after its
logits, so it is a real image classifier with 25,000 classes. Usage: big_model.py SQUEEZENET.onnx OUT.onnx"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

src, out = sys.argv[1], sys.argv[2]
model = onnx.load(src)
graph = model.graph
logits = graph.output[0].name
weights = (np.random.default_rng(0).standard_normal((1000, 25000)) * 0.01).astype(np.float32)
graph.initializer.append(numpy_helper.from_array(weights, "big_w"))
graph.node.append(helper.make_node("MatMul", [logits, "big_w"], ["big_out"], name="big_matmul"))
del graph.output[:]
graph.output.append(helper.make_tensor_value_info("big_out", TensorProto.FLOAT, [1, 25000]))
onnx.save(model, out)
