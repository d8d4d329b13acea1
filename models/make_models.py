#!/usr/bin/python3
"""Regenerate every model in models/ together with its PyTorch golden data.

    /usr/bin/python3 models/make_models.py            # all models
    /usr/bin/python3 models/make_models.py mlp lenet5 # only some groups

Needs Debian's python3-torch (1.13.1), python3-onnx (1.12) and python3-numpy; no network.
Every file written is deterministic: running the script twice gives identical bytes.
"""
import copy
import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (MODELS_DIR, check, compact_ops, export, model_path, op_list,  # noqa: E402
                    save_cases, save_onnx, seed_all)

torch.set_num_threads(1)          # identical float reductions on every run
SUMMARY = []                      # (name, opset, ops) for the table printed at the end


def report(name, m, note=""):
    ops = op_list(m)
    opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]
    SUMMARY.append((name, opset, ops))
    print("%-30s opset %-2d %s%s" % (name, opset, compact_ops(ops), ("   [" + note + "]") if note else ""))


def torch_cases(model, inputs):
    """[(inputs, outputs)] with outputs from eager PyTorch in no-grad mode."""
    cases = []
    with torch.no_grad():
        for x in inputs:
            y = model(x)
            cases.append(([x], [y]))
    return cases


# ---------------------------------------------------------------------- 1. MLP
class MLP(nn.Module):
    def __init__(self, n_in=784, h1=64, h2=32, n_out=10):
        super().__init__()
        self.fc1 = nn.Linear(n_in, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.fc3 = nn.Linear(h2, n_out)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def make_mlp():
    seed_all(1)
    model = MLP().eval()
    inputs = [torch.rand(1, 784), torch.randn(1, 784)]
    cases = torch_cases(model, inputs)
    for opset in (13, 11):
        name = "mlp_op%d" % opset
        m = export(model, (inputs[0],), name, opset)
        save_cases(name, cases)
        report(name, m)


# -------------------------------------------------------------------- 2. LeNet-5
class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def make_lenet5():
    seed_all(2)
    model = LeNet5().eval()
    inputs = [torch.rand(1, 1, 28, 28), torch.randn(1, 1, 28, 28)]
    cases = torch_cases(model, inputs)
    for opset in (11, 13):
        name = "lenet5_op%d" % opset
        m = export(model, (inputs[0],), name, opset)
        save_cases(name, cases)
        report(name, m)


# -------------------------------------------------------------- 3. activations
class Activations(nn.Module):
    """Small CNN on 1x3x16x16 that goes through every activation torch exports.

    celu_as_elu: CELU has no ONNX symbolic below opset 12, so the opset-11 export
    writes the identical function celu(x, a) = a * elu(x / a) instead.
    """

    def __init__(self, celu_as_elu=False):
        super().__init__()
        C = 8
        self.celu_as_elu = celu_as_elu
        self.conv0 = nn.Conv2d(3, C, 3, padding=1)
        self.dw = nn.Conv2d(C, C, 3, padding=1, groups=C)               # depthwise
        self.prelu = nn.PReLU(num_parameters=C)
        self.dil = nn.Conv2d(C, C, 3, padding=2, dilation=2)            # dilated
        self.pw = nn.Conv2d(4 * C, C, 1)                                # after concat
        self.strided = nn.Conv2d(C, C, 3, stride=2, padding=1)          # strided
        self.avg_inc = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=True)
        self.avg_exc = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * C, 10)
        with torch.no_grad():
            self.prelu.weight.copy_(torch.linspace(0.05, 0.6, C))         # non-default slopes
            # He-normal weights and small biases keep the signal alive through the long
            # chain of squashing activations (default init shrinks it to ~1e-4).
            for mod in (self.conv0, self.dw, self.dil, self.pw, self.strided, self.fc):
                fan_in = mod.weight[0].numel()
                mod.weight.normal_(0.0, (2.0 / fan_in) ** 0.5)
                mod.bias.uniform_(-0.2, 0.2)

    def forward(self, x):
        x = F.relu(self.conv0(x))                                      # 8x16x16
        y = F.leaky_relu(self.dw(x), 0.1)
        y = self.prelu(y)
        z = F.elu(self.dil(y), alpha=0.7)
        x = F.selu(x + z)                                              # residual Add
        x = F.max_pool2d(x, 2) - 1.5                                   # 8x8x8
        x = torch.cat([torch.sigmoid(x), torch.tanh(x),
                       F.hardsigmoid(x), F.softsign(x)], dim=1)        # Concat -> 32 ch
        x = F.softplus(self.pw(x))
        x = F.hardswish(self.strided(x))                               # 8x4x4
        x = F.relu6(self.avg_inc(x) * 4.0 - 1.0)                       # Clip(0, 6)
        x = F.silu(self.avg_exc(x))
        x = F.gelu(x * 2.0 - 1.0)                                      # erf form
        if self.celu_as_elu:
            x = 0.8 * F.elu(x / 0.8)
        else:
            x = F.celu(x, alpha=0.8)
        g = self.gap(x).flatten(1)                                     # GlobalAveragePool
        x = x * torch.softmax(x, dim=1)                                # softmax over channels
        m = x.mean(dim=(2, 3))                                         # ReduceMean
        x = self.fc(torch.cat([g, m], dim=1))
        return torch.log_softmax(x, dim=1)


def make_activations():
    seed_all(3)
    model = Activations().eval()
    model11 = Activations(celu_as_elu=True).eval()
    model11.load_state_dict(model.state_dict())
    inputs = [torch.randn(1, 3, 16, 16), torch.randn(1, 3, 16, 16) * 2.0]
    cases = torch_cases(model, inputs)
    cases11 = torch_cases(model11, inputs)
    for (a, b) in zip(cases, cases11):
        assert torch.allclose(a[1][0], b[1][0], atol=1e-6)
    for opset, mdl, cs in ((13, model, cases), (11, model11, cases11)):
        name = "activations_op%d" % opset
        m = export(mdl, (inputs[0],), name, opset)
        save_cases(name, cs)
        report(name, m)


def make_helper_activations():
    """ONNX operators torch 1.13 never writes (or writes differently), built with onnx.helper."""
    seed_all(4)
    shape = [1, 3, 8, 8]
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    y_info = helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)
    inputs = [torch.randn(*shape) * 2.0, torch.randn(*shape) * 3.0]

    def build(name, opset, nodes, fn):
        g = helper.make_graph(nodes, name, [x_info], [y_info])
        m = helper.make_model(g, producer_name="onnxcc-models",
                              opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 5 if opset <= 10 else 7
        m = save_onnx(m, name)
        save_cases(name, [([x], [fn(x)]) for x in inputs])
        report(name, m)

    # ThresholdedRelu (opset 10+): y = x if x > alpha else 0
    alpha = 0.75
    build("thresholded_op13", 13,
          [helper.make_node("ThresholdedRelu", ["x"], ["y"], name="thresholded", alpha=alpha)],
          lambda x: torch.where(x > alpha, x, torch.zeros_like(x)))

    # HardSigmoid with non-default alpha/beta, then one with the defaults (0.2, 0.5)
    a, b = 0.3, 0.4
    build("hardsigmoid_op13", 13,
          [helper.make_node("HardSigmoid", ["x"], ["h"], name="hs_custom", alpha=a, beta=b),
           helper.make_node("Sub", ["x", "h"], ["d"], name="sub"),
           helper.make_node("HardSigmoid", ["d"], ["y"], name="hs_default")],
          lambda x: torch.clamp(0.2 * (x - torch.clamp(a * x + b, 0, 1)) + 0.5, 0, 1))

    # Clip-6 style (min/max attributes) at opset 10; second node has only max (min default)
    build("clip_op10", 10,
          [helper.make_node("Clip", ["x"], ["c"], name="clip_both", min=-0.5, max=1.25),
           helper.make_node("Clip", ["c"], ["y"], name="clip_max_only", max=1.0)],
          lambda x: torch.clamp(torch.clamp(x, -0.5, 1.25), max=1.0))


# ------------------------------------------------------------ 4. conv/bn/dropout
class ConvBnDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.drop = nn.Dropout(0.25)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        x = self.drop(F.relu(self.bn1(self.conv1(x))))
        x = self.bn2(self.conv2(x))
        return self.fc(torch.flatten(x, 1))


def bn_buffers_match(model, m):
    """True if every BatchNorm tensor in the graph equals the torch module's."""
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    ok = True
    for k, v in model.state_dict().items():
        if k.startswith("bn") and k in inits:
            ok &= np.array_equal(inits[k], v.numpy())
    return ok


def node_details(m):
    lines = []
    consts = {}
    for n in m.graph.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    for n in m.graph.node:
        attrs = ", ".join("%s=%s" % (a.name, round(helper.get_attribute_value(a), 6)
                                     if a.type == onnx.AttributeProto.FLOAT
                                     else helper.get_attribute_value(a))
                          for a in n.attribute if n.op_type != "Constant")
        ins = ["%s(=%s)" % (i, consts[i].tolist()) if i in consts else i for i in n.input]
        lines.append("  %s %s in=%s out=%s %s" % (n.op_type, n.name, ins, list(n.output), attrs))
    return "\n".join(lines)


def make_conv_bn_dropout():
    seed_all(5)
    model = ConvBnDropout()
    with torch.no_grad():                      # non-trivial affine parameters
        for bn in (model.bn1, model.bn2):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    model.train()
    with torch.no_grad():                      # non-trivial running statistics
        for _ in range(5):
            model(torch.randn(8, 3, 8, 8) * 1.5 + 0.3)
    model.eval()
    inputs = [torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8)]

    # (a) inference export that keeps BatchNormalization: PRESERVE + eval, no folding.
    #     Dropout in eval mode has no ONNX node at any opset in torch 1.13.
    name = "conv_bn_dropout_nofold"
    m = export(model, (inputs[0],), name, 13, do_constant_folding=False,
               training=torch.onnx.TrainingMode.PRESERVE)
    assert bn_buffers_match(model, m)
    save_cases(name, torch_cases(model, inputs))
    report(name, m, "Dropout dropped by torch even in PRESERVE" if "Dropout" not in op_list(m) else "")

    # (b) TRAINING export. Tracing runs forward() in train mode, which updates the
    #     BatchNorm running statistics of the module being exported, so the initializers
    #     hold the updated statistics: export a copy and take the goldens from that copy
    #     in eval mode (inference semantics), after checking they match the graph.
    for opset, name in ((13, "conv_bn_dropout_train"), (15, "conv_bn_dropout_train_op15")):
        mcopy = copy.deepcopy(model)
        torch.manual_seed(50 + opset)           # the traced forward uses Dropout's RNG
        m = export(mcopy, (inputs[0],), name, opset, do_constant_folding=False,
                   training=torch.onnx.TrainingMode.TRAINING)
        mcopy.eval()
        assert bn_buffers_match(mcopy, m), name
        save_cases(name, torch_cases(mcopy, inputs))
        report(name, m)
        print(node_details(m))

    # (c) Dropout kept as an inference node the way older exporters wrote it
    #     (opset 11 Dropout with only `ratio`, no training_mode input): the Dropout
    #     module alone is left in train mode under PRESERVE; BatchNorm stays eval.
    name = "conv_bn_dropout_op11"
    mcopy = copy.deepcopy(model)
    mcopy.drop.train()
    torch.manual_seed(61)
    m = export(mcopy, (inputs[0],), name, 11, do_constant_folding=False,
               training=torch.onnx.TrainingMode.PRESERVE)
    assert bn_buffers_match(model, m)
    save_cases(name, torch_cases(model, inputs))      # fully-eval goldens
    report(name, m)
    print(node_details(m))


# ----------------------------------------------------------- 5. flatten_dynamic
class FlattenDynamic(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        x = x.view(x.size(0), -1)
        return self.fc(x)


def make_flatten_dynamic():
    seed_all(6)
    model = FlattenDynamic().eval()
    x1 = torch.randn(1, 1, 8, 8)
    x3 = torch.randn(3, 1, 8, 8)
    name = "flatten_dynamic"
    m = export(model, (x1,), name, 13,
               dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    ops = op_list(m)
    for op in ("Shape", "Gather", "Unsqueeze", "Concat", "Reshape"):
        assert op in ops, (op, ops)
    save_cases(name, torch_cases(model, [x1]))
    save_cases(name, torch_cases(model, [x3]), data_dir="flatten_dynamic_batch3")
    report(name, m)


# ------------------------------------------------------- 6. tf2onnx-style Keras
def _tf2onnx_model(graph, opset=13):
    m = helper.make_model(graph, producer_name="tf2onnx", producer_version="1.9.3",
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


def make_keras():
    rng = np.random.RandomState(7)

    def w(*shape, scale):
        return (rng.randn(*shape) * scale).astype(np.float32)

    # keras_cnn: Input(12,12,3) -> Conv2D(4,3,'valid',relu) -> MaxPool(2) -> Flatten
    #            -> Dense(16, relu) -> Dense(10, softmax)
    conv_w = w(4, 3, 3, 3, scale=0.4)                 # OIHW, tf2onnx folds HWIO->OIHW
    conv_b = w(4, scale=0.1)
    d1_w, d1_b = w(100, 16, scale=0.15), w(16, scale=0.1)
    d2_w, d2_b = w(16, 10, scale=0.3), w(10, scale=0.1)
    flat = np.array([-1, 100], dtype=np.int64)
    P = "StatefulPartitionedCall/sequential/"
    inits = [numpy_helper.from_array(conv_w, P + "conv2d/Conv2D/ReadVariableOp:0"),
             numpy_helper.from_array(conv_b, P + "conv2d/BiasAdd/ReadVariableOp:0"),
             numpy_helper.from_array(flat, "const_fold_opt__21"),
             numpy_helper.from_array(d1_w, P + "dense/MatMul/ReadVariableOp:0"),
             numpy_helper.from_array(d1_b, P + "dense/BiasAdd/ReadVariableOp:0"),
             numpy_helper.from_array(d2_w, P + "dense_1/MatMul/ReadVariableOp:0"),
             numpy_helper.from_array(d2_b, P + "dense_1/BiasAdd/ReadVariableOp:0")]
    nodes = [
        helper.make_node("Transpose", ["input_1"], [P + "conv2d/BiasAdd__6:0"],
                         name=P + "conv2d/BiasAdd__6", perm=[0, 3, 1, 2]),
        helper.make_node("Conv", [P + "conv2d/BiasAdd__6:0", inits[0].name, inits[1].name],
                         [P + "conv2d/BiasAdd:0"], name=P + "conv2d/BiasAdd",
                         dilations=[1, 1], kernel_shape=[3, 3], strides=[1, 1]),
        helper.make_node("Relu", [P + "conv2d/BiasAdd:0"], [P + "conv2d/Relu:0"],
                         name=P + "conv2d/Relu"),
        helper.make_node("MaxPool", [P + "conv2d/Relu:0"], [P + "max_pooling2d/MaxPool:0"],
                         name=P + "max_pooling2d/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Transpose", [P + "max_pooling2d/MaxPool:0"],
                         [P + "max_pooling2d/MaxPool__16:0"],
                         name=P + "max_pooling2d/MaxPool__16", perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", [P + "max_pooling2d/MaxPool__16:0", "const_fold_opt__21"],
                         [P + "flatten/Reshape:0"], name=P + "flatten/Reshape"),
        helper.make_node("MatMul", [P + "flatten/Reshape:0", inits[3].name],
                         [P + "dense/MatMul:0"], name=P + "dense/MatMul"),
        helper.make_node("Add", [P + "dense/MatMul:0", inits[4].name],
                         [P + "dense/BiasAdd:0"], name=P + "dense/BiasAdd"),
        helper.make_node("Relu", [P + "dense/BiasAdd:0"], [P + "dense/Relu:0"],
                         name=P + "dense/Relu"),
        helper.make_node("MatMul", [P + "dense/Relu:0", inits[5].name],
                         [P + "dense_1/MatMul:0"], name=P + "dense_1/MatMul"),
        helper.make_node("Add", [P + "dense_1/MatMul:0", inits[6].name],
                         [P + "dense_1/BiasAdd:0"], name=P + "dense_1/BiasAdd"),
        helper.make_node("Softmax", [P + "dense_1/BiasAdd:0"], ["dense_1"],
                         name=P + "dense_1/Softmax", axis=-1),
    ]
    g = helper.make_graph(nodes, "tf2onnx", 
                          [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [1, 12, 12, 3])],
                          [helper.make_tensor_value_info("dense_1", TensorProto.FLOAT, [1, 10])],
                          initializer=inits)
    g.doc_string = "converted from keras_cnn (tf2onnx-style graph built with onnx.helper)"
    name = "keras_cnn"
    m = save_onnx(_tf2onnx_model(g), name)

    t = torch.from_numpy

    def cnn(x):                                      # x: NHWC
        y = x.permute(0, 3, 1, 2)
        y = F.relu(F.conv2d(y, t(conv_w), t(conv_b)))
        y = F.max_pool2d(y, 2)
        y = y.permute(0, 2, 3, 1).reshape(-1, 100)
        y = F.relu(y @ t(d1_w) + t(d1_b))
        return torch.softmax(y @ t(d2_w) + t(d2_b), dim=-1)

    xs = [t(rng.rand(1, 12, 12, 3).astype(np.float32)),
          t(rng.randn(1, 12, 12, 3).astype(np.float32))]
    save_cases(name, [([x], [cnn(x)]) for x in xs])
    report(name, m)

    # keras_mlp: Input(8,8) -> Flatten -> Dense(32, tanh) -> Dense(10, softmax)
    m1_w, m1_b = w(64, 32, scale=0.2), w(32, scale=0.1)
    m2_w, m2_b = w(32, 10, scale=0.3), w(10, scale=0.1)
    P = "StatefulPartitionedCall/sequential_1/"
    shape = np.array([-1, 64], dtype=np.int64)
    inits = [numpy_helper.from_array(shape, "const_fold_opt__12"),
             numpy_helper.from_array(m1_w, P + "dense_2/MatMul/ReadVariableOp:0"),
             numpy_helper.from_array(m1_b, P + "dense_2/BiasAdd/ReadVariableOp:0"),
             numpy_helper.from_array(m2_w, P + "dense_3/MatMul/ReadVariableOp:0"),
             numpy_helper.from_array(m2_b, P + "dense_3/BiasAdd/ReadVariableOp:0")]
    nodes = [
        helper.make_node("Reshape", ["input_2", "const_fold_opt__12"],
                         [P + "flatten_1/Reshape:0"], name=P + "flatten_1/Reshape"),
        helper.make_node("MatMul", [P + "flatten_1/Reshape:0", inits[1].name],
                         [P + "dense_2/MatMul:0"], name=P + "dense_2/MatMul"),
        helper.make_node("Add", [P + "dense_2/MatMul:0", inits[2].name],
                         [P + "dense_2/BiasAdd:0"], name=P + "dense_2/BiasAdd"),
        helper.make_node("Tanh", [P + "dense_2/BiasAdd:0"], [P + "dense_2/Tanh:0"],
                         name=P + "dense_2/Tanh"),
        helper.make_node("MatMul", [P + "dense_2/Tanh:0", inits[3].name],
                         [P + "dense_3/MatMul:0"], name=P + "dense_3/MatMul"),
        helper.make_node("Add", [P + "dense_3/MatMul:0", inits[4].name],
                         [P + "dense_3/BiasAdd:0"], name=P + "dense_3/BiasAdd"),
        helper.make_node("Softmax", [P + "dense_3/BiasAdd:0"], ["dense_3"],
                         name=P + "dense_3/Softmax", axis=-1),
    ]
    g = helper.make_graph(nodes, "tf2onnx",
                          [helper.make_tensor_value_info("input_2", TensorProto.FLOAT, [1, 8, 8])],
                          [helper.make_tensor_value_info("dense_3", TensorProto.FLOAT, [1, 10])],
                          initializer=inits)
    g.doc_string = "converted from keras_mlp (tf2onnx-style graph built with onnx.helper)"
    name = "keras_mlp"
    m = save_onnx(_tf2onnx_model(g), name)

    def mlp(x):
        y = x.reshape(-1, 64)
        y = torch.tanh(y @ t(m1_w) + t(m1_b))
        return torch.softmax(y @ t(m2_w) + t(m2_b), dim=-1)

    xs = [t(rng.rand(1, 8, 8).astype(np.float32)),
          t(rng.randn(1, 8, 8).astype(np.float32))]
    save_cases(name, [([x], [mlp(x)]) for x in xs])
    report(name, m)


# ---------------------------------------------------------------- 7. digits demo
GLYPHS = {  # 5x7 bitmap font
    0: ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    1: ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    2: ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    3: ["11111", "00010", "00100", "00010", "00001", "10001", "01110"],
    4: ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    5: ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    6: ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    7: ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    8: ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    9: ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
}
GLYPH_ARR = {d: np.array([[int(c) for c in row] for row in rows], dtype=np.float32)
             for d, rows in GLYPHS.items()}


def render_digits(n, rng):
    """n noisy 8x8 digit images (flattened to 64, values about 0..1) and their labels.

    Each glyph is placed at a random offset (0-3 across, 0-1 down), drawn with a random
    intensity, 12% of its stroke pixels erased, plus Gaussian noise (sigma 0.25).
    """
    labels = rng.randint(0, 10, size=n)
    X = np.zeros((n, 8, 8), dtype=np.float32)
    for i, d in enumerate(labels):
        dx, dy = rng.randint(0, 4), rng.randint(0, 2)
        g = GLYPH_ARR[d] * rng.uniform(0.6, 1.0)
        g = g * (rng.rand(7, 5) > 0.12)
        X[i, dy:dy + 7, dx:dx + 5] = g
    X += rng.randn(n, 8, 8).astype(np.float32) * 0.25
    return np.clip(X, 0.0, 1.0).reshape(n, 64).astype(np.float32), labels


def make_digits():
    seed_all(8)
    rng = np.random.RandomState(8)
    Xtr, ytr = render_digits(4000, rng)
    Xte, yte = render_digits(1000, rng)
    model = MLP(64, 64, 32, 10)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    Xtr_t, ytr_t = torch.from_numpy(Xtr), torch.from_numpy(ytr).long()
    t0 = time.time()
    model.train()
    for epoch in range(30):
        perm = torch.randperm(len(Xtr_t))
        for i in range(0, len(perm), 64):
            idx = perm[i:i + 64]
            loss = F.cross_entropy(model(Xtr_t[idx]), ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(Xte)).argmax(1).numpy() == yte).mean()
    print("digits_mlp: trained in %.1f s, held-out accuracy %.3f (%d samples)"
          % (time.time() - t0, acc, len(yte)))

    name = "digits_mlp"
    m = export(model, (torch.from_numpy(Xte[:1]),), name, 13,
               dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    # 10 held-out samples: the first of each digit, in a fixed shuffled order
    order = np.random.RandomState(9).permutation(10)
    picks = [int(np.nonzero(yte == d)[0][0]) for d in order]
    cases = torch_cases(model, [torch.from_numpy(Xte[i:i + 1]) for i in picks])
    save_cases(name, cases)
    with open(os.path.join(MODELS_DIR, name, "labels.txt"), "w") as fh:
        fh.write("".join("%d\n" % yte[i] for i in picks))
    pred = [int(c[1][0].argmax()) for c in cases]
    print("digits_mlp samples: labels %s predicted %s" % ([int(yte[i]) for i in picks], pred))
    report(name, m, "held-out acc %.3f" % acc)


# ------------------------------------------------------------- 9. ResNet blocks
class ResNetBlocks(nn.Module):
    """resnet18's pattern at 1x3x32x32: a stem, a block with the identity as
    shortcut (out + x), and a strided block whose shortcut is a 1x1 conv
    (shortcut + out, the other operand order). Every 3x3 conv has 16 or 32
    outputs and rows of 16 or more, so onnxcc packs them and fuses the Adds
    and ReLUs into the second conv of each block. The BatchNorms (eval, with
    non-trivial statistics) are folded into the convs by torch's export."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(16)
        self.a1 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.a2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.b1 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(32)
        self.b2 = nn.Conv2d(32, 32, 3, padding=1, bias=False)
        self.bn4 = nn.BatchNorm2d(32)
        self.down = nn.Conv2d(16, 32, 1, stride=2, bias=False)
        self.bn5 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32, 10)
        with torch.no_grad():
            for bn in (self.bn0, self.bn1, self.bn2, self.bn3, self.bn4, self.bn5):
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.3, 0.3)
                bn.running_mean.uniform_(-0.2, 0.2)
                bn.running_var.uniform_(0.5, 2.0)

    def forward(self, x):
        x = F.relu(self.bn0(self.stem(x)))                             # 16x32x32
        out = F.relu(self.bn1(self.a1(x)))
        x = F.relu(self.bn2(self.a2(out)) + x)                         # identity shortcut
        out = F.relu(self.bn3(self.b1(x)))                             # 32x16x16
        x = F.relu(self.bn5(self.down(x)) + self.bn4(self.b2(out)))    # 1x1 shortcut
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def make_resnet_blocks():
    seed_all(9)
    model = ResNetBlocks().eval()
    inputs = [torch.rand(1, 3, 32, 32), torch.randn(1, 3, 32, 32)]
    cases = torch_cases(model, inputs)
    name = "resnet_blocks"
    m = export(model, (inputs[0],), name, 13)
    save_cases(name, cases)
    report(name, m)


GROUPS = {
    "mlp": make_mlp,
    "lenet5": make_lenet5,
    "activations": make_activations,
    "helper": make_helper_activations,
    "convbn": make_conv_bn_dropout,
    "flatten": make_flatten_dynamic,
    "keras": make_keras,
    "digits": make_digits,
    "resnet": make_resnet_blocks,
}


def main(argv):
    import warnings
    warnings.filterwarnings("ignore", category=UserWarning)
    for g in (argv or list(GROUPS)):
        GROUPS[g]()
    print("\n| model | opset | size (bytes) | ops |\n|---|---|---|---|")
    for name, opset, ops in SUMMARY:
        size = os.path.getsize(model_path(name))
        print("| %s | %d | %d | %s |" % (name, opset, size, compact_ops(ops)))


if __name__ == "__main__":
    main(sys.argv[1:])
