#!/usr/bin/python3
"""Export the models `make bench` measures into OUT_DIR (build/bench).

    /usr/bin/python3 bench/export_models.py build/bench

Inference models (batch 1, eval mode, opset 13):
    mlp.onnx, lenet5.onnx, activations.onnx   copies of models/*_op13.onnx
    mobilenet_v2.onnx, resnet18.onnx          torchvision, weights=None (random init,
                                              fixed seed), input 1x3x224x224
    add.onnx                                  y = x + 1 on (1, 4): the per-call floor
Training models (the same three small networks with a dynamic batch axis, for
`onnxcc compile --train --batch B`):
    mlp_train.onnx, lenet5_train.onnx, activations_train.onnx

A file that exists is kept, so a second `make bench` does not export again; every
export is deterministic (fixed seeds, one thread), so deleting one is always safe.
Needs Debian's python3-torch 1.13.1, python3-torchvision 0.14.1 and python3-onnx.
"""
import os
import shutil
import sys

sys.dont_write_bytecode = True
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models"))
OPSET = 13
# torch, torchvision and onnx are imported where they are used, so that bench/run.py
# can import INPUT_SHAPES without them (its child processes inherit its memory peak).


def small_module(name):
    """The torch module of one of the small test networks, as models/ defines it."""
    import make_models  # models/make_models.py; importing it exports nothing
    return {"mlp": make_models.MLP, "lenet5": make_models.LeNet5,
            "activations": make_models.Activations}[name]()


# Input shape of each model at batch 1; shared with bench/run.py and bench/torch_train.py.
INPUT_SHAPES = {"mlp": (1, 784), "lenet5": (1, 1, 28, 28), "activations": (1, 3, 16, 16),
                "mobilenet_v2": (1, 3, 224, 224), "resnet18": (1, 3, 224, 224), "add": (1, 4)}


def export(model, shape, path, dynamic_batch=False):
    import onnx
    import torch
    kw = {}
    if dynamic_batch:
        kw["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    torch.onnx.export(model.eval(), (torch.randn(*shape),), path, opset_version=OPSET,
                      input_names=["input"], output_names=["output"], **kw)
    onnx.checker.check_model(onnx.load(path))


def export_torchvision(name, path):
    import torch
    import torchvision
    torch.manual_seed(7)
    model = getattr(torchvision.models, name)(weights=None)
    export(model, INPUT_SHAPES[name], path)


def export_add(path):
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    g = helper.make_graph([helper.make_node("Add", ["input", "one"], ["output"], name="add")],
                          "add", [x], [y], [one])
    m = helper.make_model(g, producer_name="onnxcc-bench",
                          opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main(out_dir):
    import torch
    torch.set_num_threads(1)
    os.makedirs(out_dir, exist_ok=True)
    jobs = []
    for name in ("mlp", "lenet5", "activations"):
        src = os.path.join(ROOT, "models", name + "_op13.onnx")
        jobs.append((name + ".onnx", lambda p, src=src: shutil.copyfile(src, p)))
        jobs.append((name + "_train.onnx", lambda p, name=name: (
            torch.manual_seed(11), export(small_module(name), INPUT_SHAPES[name], p, True))))
    for name in ("mobilenet_v2", "resnet18"):
        jobs.append((name + ".onnx", lambda p, name=name: export_torchvision(name, p)))
    jobs.append(("add.onnx", export_add))
    for file, make in jobs:
        path = os.path.join(out_dir, file)
        if os.path.exists(path):
            continue
        make(path + ".tmp")
        os.replace(path + ".tmp", path)
        print("export_models: wrote %s (%d bytes)" % (path, os.path.getsize(path)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "bench"))
