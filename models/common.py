"""Shared helpers for the model-export scripts (run with /usr/bin/python3).

Every model is written as models/<name>.onnx with golden data next to it in the
ONNX test-data layout:

    models/<name>/test_data_set_N/input_K.pb, output_K.pb

The .pb files are onnx TensorProto messages made with onnx.numpy_helper.from_array,
each named after the graph input/output it belongs to. The goldens always come from
PyTorch (eager mode), never from an ONNX evaluator.
"""
import os

import numpy as np
import onnx
from onnx import numpy_helper
import torch

MODELS_DIR = os.path.dirname(os.path.abspath(__file__))


def seed_all(seed):
    """Fix every random source used by the scripts."""
    torch.manual_seed(seed)
    np.random.seed(seed)


def model_path(name):
    return os.path.join(MODELS_DIR, name + ".onnx")


def rel(path):
    return os.path.relpath(path, os.path.dirname(MODELS_DIR))


def graph_io_names(onnx_file):
    """Names of the real graph inputs (initializers excluded) and of the outputs."""
    m = onnx.load(onnx_file)
    inits = {t.name for t in m.graph.initializer}
    ins = [i.name for i in m.graph.input if i.name not in inits]
    outs = [o.name for o in m.graph.output]
    return ins, outs


def _f32(a):
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    a = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
    return a


def save_case(onnx_file, case_dir, inputs, outputs):
    """Write one test_data_set directory.

    onnx_file: the model the data belongs to (for the tensor names).
    case_dir:  e.g. models/mlp_op13/test_data_set_0
    inputs, outputs: lists of numpy arrays or torch tensors (float32).
    """
    in_names, out_names = graph_io_names(onnx_file)
    assert len(in_names) == len(inputs), (onnx_file, in_names, len(inputs))
    assert len(out_names) == len(outputs), (onnx_file, out_names, len(outputs))
    os.makedirs(case_dir, exist_ok=True)
    # Remove stale files from an earlier run with more inputs/outputs.
    for f in os.listdir(case_dir):
        if f.endswith(".pb"):
            os.remove(os.path.join(case_dir, f))
    for kind, names, arrays in (("input", in_names, inputs), ("output", out_names, outputs)):
        for k, (n, a) in enumerate(zip(names, arrays)):
            t = numpy_helper.from_array(_f32(a), name=n)
            with open(os.path.join(case_dir, "%s_%d.pb" % (kind, k)), "wb") as fh:
                fh.write(t.SerializeToString())


def save_cases(name, cases, data_dir=None):
    """cases: list of (inputs, outputs); writes test_data_set_0..N-1 under models/<data_dir or name>."""
    d = os.path.join(MODELS_DIR, data_dir or name)
    for i, (ins, outs) in enumerate(cases):
        save_case(model_path(name), os.path.join(d, "test_data_set_%d" % i), ins, outs)


def check(onnx_file):
    m = onnx.load(onnx_file)
    onnx.checker.check_model(m)
    return m


def op_list(m):
    return [n.op_type for n in m.graph.node]


def compact_ops(ops):
    """['Conv','Relu','Relu','Relu'] -> 'Conv, Relu x3' (runs of equal ops collapsed)."""
    out = []
    for op in ops:
        if out and out[-1][0] == op:
            out[-1][1] += 1
        else:
            out.append([op, 1])
    return ", ".join(o if c == 1 else "%s x%d" % (o, c) for o, c in out)


def export(model, args, name, opset, **kw):
    """torch.onnx.export with fixed names; returns the checked onnx.ModelProto."""
    path = model_path(name)
    kw.setdefault("input_names", ["input"])
    kw.setdefault("output_names", ["output"])
    torch.onnx.export(model, args, path, opset_version=opset, **kw)
    return check(path)


def save_onnx(model, name):
    """Save a helper-built model, checked first."""
    onnx.checker.check_model(model)
    path = model_path(name)
    onnx.save(model, path)
    return check(path)
