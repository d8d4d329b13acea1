#!/usr/bin/python3
"""The host side of the export round trip, with PyTorch as the oracle.

Loads the model written by `onnxcc export` with python3-onnx, checks it is a
valid model whose trained initializers differ from the original's, then
computes the digits MLP (Gemm/Relu/Gemm/Relu/Gemm) with torch from those
initializers and compares with what the trained C model's run() produced.
usage: check_export.py ORIGINAL.onnx TUNED.onnx PROBE_OUT
"""
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper


def forward(x, weights):
    w = {n: torch.from_numpy(v.copy()) for n, v in weights.items()}
    h = torch.relu(torch.nn.functional.linear(x, w["fc1.weight"], w["fc1.bias"]))
    h = torch.relu(torch.nn.functional.linear(h, w["fc2.weight"], w["fc2.bias"]))
    return torch.nn.functional.linear(h, w["fc3.weight"], w["fc3.bias"]).numpy().ravel()


def main(original, tuned, probe_path):
    model = onnx.load(tuned)
    onnx.checker.check_model(model)
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    old = {t.name: numpy_helper.to_array(t) for t in onnx.load(original).graph.initializer}
    changed = [n for n in weights if not np.array_equal(weights[n], old[n])]
    if not changed:
        print("FAIL: the exported model has the original weights")
        return 1
    got = np.fromfile(probe_path, dtype=np.float32)
    batch = got.size // 10  # the probe is `batch` rows of 64 pixels, i % 7 / 7 over all of them
    x = torch.tensor([(i % 7) / 7.0 for i in range(64 * batch)], dtype=torch.float32)
    x = x.reshape(batch, 64)
    y = forward(x, weights)
    # Control: the untrained weights must not match, or the comparison proves nothing.
    if np.allclose(got, forward(x, old), rtol=1e-4, atol=1e-5):
        print("FAIL: the trained output equals the untrained model's")
        return 1
    err = float(np.max(np.abs(got - y)))
    ok = np.allclose(got, y, rtol=1e-4, atol=1e-5)
    print(f"export: {len(changed)} initializers changed; trained C vs PyTorch on the exported "
          f"model: max abs err {err:.3g}: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
