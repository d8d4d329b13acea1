#!/usr/bin/python3
"""Training-parity models and their PyTorch training goldens (for `onnxcc --train`).

    /usr/bin/python3 models/make_train_models.py          # everything (about 1 s)
    /usr/bin/python3 models/make_train_models.py mlp      # only some models: mlp lenet cnn_bn

Writes, for each model M in {train_mlp, train_lenet, train_cnn_bn}:

    models/M.onnx            opset 13, dynamic batch axis on input and output
    models/M/data.npz        the training data shared by all cases of M:
                               x_q    int8  (STEPS, BATCH, ...input shape)  x = x_q / 32
                               labels int32 (STEPS, BATCH)
    models/M/<case>.npz      one PyTorch training run from the exported weights:
                               config   str   JSON: optimizer and its hyperparameters,
                                              the trainable ONNX initializer names
                               losses   float32 (STEPS,)  loss before each update
                               w/<name> float32, ONNX shape: final value of each
                                        trainable initializer, by ONNX name
                               probe    float32 (BATCH, classes): model output (graph
                                        output 0) on data batch 0 after training
and models/train_cases.txt, the list tests/train/run.sh walks.

The inputs are multiples of 1/32 stored as int8, so C and PyTorch see bit-identical
float32 data. Training runs in eval() mode throughout (BatchNorm uses its running
statistics, which are frozen, and its affine parameters are frozen too, as onnxcc trains
them), with the loss F.cross_entropy(logits, labels) on the logits before a final
Softmax/LogSoftmax. Deterministic: fixed seeds, one thread, no timestamps.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import MODELS_DIR, compact_ops, export, model_path, op_list, seed_all  # noqa: E402

torch.set_num_threads(1)
STEPS = 20
BATCH = 8
X_SCALE = 32.0           # x = x_q / X_SCALE, exact in float32

# Optimizer configurations, by case name. "optimizer" is onnxcc's --optimizer.
OPTIMIZERS = {
    "sgd":      dict(optimizer="sgd", lr=0.1),
    "momentum": dict(optimizer="momentum", lr=0.05, momentum=0.9),
    "nesterov": dict(optimizer="momentum", lr=0.05, momentum=0.9, nesterov=1),
    "adam":     dict(optimizer="adam", lr=1e-3),
    "adamw":    dict(optimizer="adamw", lr=1e-3, weight_decay=0.1),
    "sgd_wd":   dict(optimizer="sgd", lr=0.1, weight_decay=0.05),
    "momentum_clip": dict(optimizer="momentum", lr=0.05, momentum=0.9, clip_norm=0.3),
}
DEFAULTS = dict(lr=0.01, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=0,
                beta1=0.9, beta2=0.999, eps=1e-8, clip_norm=0.0)


# -------------------------------------------------------------------- models
class TrainMLP(nn.Module):
    """64 -> 32 -> 16 -> 10, ReLU; outputs logits."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 16)
        self.fc3 = nn.Linear(16, 10)

    def logits(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    def forward(self, x):
        return self.logits(x)


class TrainLeNet(nn.Module):
    """LeNet-5 shape on 1x28x28 with fewer channels; ends in Softmax (fused loss)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 5, padding=2)
        self.conv2 = nn.Conv2d(4, 8, 5)
        self.fc1 = nn.Linear(8 * 5 * 5, 24)
        self.fc2 = nn.Linear(24, 16)
        self.fc3 = nn.Linear(16, 10)

    def logits(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


class TrainCnnBn(nn.Module):
    """Small CNN on 3x12x12 with frozen BatchNorm, every activation with a backward, ReduceMean.

    The activations sit on parallel branches joined by Add, so no long chain of squashing
    functions flattens the signal. Ends in LogSoftmax (fused loss).
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.prelu = nn.PReLU(8)
        self.conv3 = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(8, 10)
        with torch.no_grad():
            self.prelu.weight.copy_(torch.linspace(0.05, 0.4, 8))
            for bn in (self.bn1, self.bn2):          # non-trivial, frozen statistics
                c = bn.num_features
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.3, 0.3)
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.5, 2.0)
                assert bn.running_mean.shape == (c,)

    def logits(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)              # 6x6x6
        h = self.bn2(self.conv2(x))                                        # 8x6x6
        a = F.leaky_relu(h, 0.1) + self.prelu(h) + F.elu(h) + F.selu(h)
        b = torch.sigmoid(a) + F.hardsigmoid(a) + torch.tanh(a) + F.softsign(a)
        u = self.conv3(F.avg_pool2d(b, 2))                                 # 8x3x3
        c = F.softplus(u) + F.hardswish(u) + F.relu6(u)
        c = c * torch.sigmoid(c.mean(dim=(2, 3), keepdim=True))            # ReduceMean (SE gate)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(c, 1), 1))

    def forward(self, x):
        return F.log_softmax(self.logits(x), dim=1)


# (torch class, input shape without batch, seed, frozen-prefix case)
# The frozen-prefix case trains only the last layer(s): "names" passes the ONNX
# initializer names to --trainable, "last:N" the layer count.
MODELS = {
    "mlp": (TrainMLP, (64,), 11, dict(case="frozen", optimizer="momentum",
                                        trainable=["fc3.weight", "fc3.bias"])),
    "lenet": (TrainLeNet, (1, 28, 28), 12, dict(case="frozen", optimizer="adam",
                                                  trainable="last:2",
                                                  torch_trainable=["fc2", "fc3"])),
    "cnn_bn": (TrainCnnBn, (3, 12, 12), 13, dict(case="frozen", optimizer="sgd",
                                                   trainable=["conv3.weight", "conv3.bias",
                                                              "fc.weight", "fc.bias"])),
}


# ------------------------------------------------------------------- helpers
def onnx_tensors(model, onnx_file):
    """{ONNX initializer name: torch parameter or buffer}, and the initializer shapes.

    torch keeps the state_dict name for most; a folded one (PReLU's slope, unsqueezed to
    (C,1,1)) gets a name like onnx::PRelu_NN and is matched by its values.
    """
    state = dict(model.named_parameters())
    state.update(model.named_buffers())
    m = onnx.load(onnx_file)
    out = {}
    for t in m.graph.initializer:
        a = numpy_helper.to_array(t)
        if t.name in state:
            out[t.name] = state[t.name]
            continue
        same = [p for p in state.values()
                if p.numel() == a.size and np.array_equal(p.detach().numpy().ravel(), a.ravel())]
        if len(same) == 1:
            out[t.name] = same[0]
    return out, {t.name: tuple(t.dims) for t in m.graph.initializer}


def load_onnx_weights(model, onnx_file):
    """Copy every exported initializer into its torch parameter or buffer.

    Returns {ONNX name: torch parameter} (buffers left out) and the ONNX shapes.
    """
    mapping, shapes = onnx_tensors(model, onnx_file)
    m = onnx.load(onnx_file)
    with torch.no_grad():
        for t in m.graph.initializer:
            assert t.name in mapping, "initializer %s has no torch tensor" % t.name
            p = mapping[t.name]
            p.copy_(torch.from_numpy(numpy_helper.to_array(t).copy()).reshape(p.shape))
    params = {id(p) for p in model.parameters()}
    return {n: p for n, p in mapping.items() if id(p) in params}, shapes


def make_optimizer(params, cfg):
    o = cfg["optimizer"]
    if o in ("sgd", "momentum"):
        return torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"],
                               dampening=cfg["dampening"], weight_decay=cfg["weight_decay"],
                               nesterov=bool(cfg["nesterov"]))
    cls = torch.optim.Adam if o == "adam" else torch.optim.AdamW
    return cls(params, lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"],
               weight_decay=cfg["weight_decay"])


def train_case(key, cls, data, cfg, trainable_modules=None, trainable_names=None):
    """One PyTorch run from the exported weights; returns (losses, {name: final}, probe,
    ignore_loss)."""
    model = cls().eval()
    onnx_file = model_path("train_" + key)
    mapping, shapes = load_onnx_weights(model, onnx_file)
    for p in model.parameters():
        p.requires_grad_(False)
    for name, p in mapping.items():
        if name.startswith("bn"):                   # onnxcc freezes BatchNormalization
            continue
        if trainable_names is not None and name not in trainable_names:
            continue
        if trainable_modules is not None and name.split(".")[0] not in trainable_modules:
            continue
        p.requires_grad_(True)
    trainable = [n for n, p in mapping.items() if p.requires_grad]
    opt = make_optimizer([mapping[n] for n in trainable], cfg)
    x = torch.from_numpy(data["x_q"].astype(np.float32) / X_SCALE)
    y = torch.from_numpy(data["labels"].astype(np.int64))
    losses = []
    for s in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(model.logits(x[s]), y[s])
        losses.append(loss.item())
        loss.backward()
        if cfg["clip_norm"] > 0:  # the global L2 norm, as NAME_train_config.clip_norm
            torch.nn.utils.clip_grad_norm_([mapping[n] for n in trainable], cfg["clip_norm"])
        opt.step()
    with torch.no_grad():
        probe = model(x[0]).numpy()
        # Batch 0 with its first label -100 (cross_entropy's default ignore_index),
        # on the trained model: the loss over the other samples.
        ignored = y[0].clone()
        ignored[0] = -100
        ignore_loss = F.cross_entropy(model.logits(x[0]), ignored).item()
    final = {n: mapping[n].detach().numpy().reshape(shapes[n]).astype(np.float32)
             for n in trainable}
    return (np.array(losses, dtype=np.float32), final, probe.astype(np.float32),
            np.float32(ignore_loss))


def save_npz(path, **arrays):
    with open(path, "wb") as fh:          # np.savez_compressed writes no timestamps
        np.savez_compressed(fh, **arrays)


def make_model(key):
    cls, in_shape, seed, frozen = MODELS[key]
    name = "train_" + key
    seed_all(seed)
    model = cls().eval()
    rng = np.random.RandomState(seed)
    x_q = np.clip(np.round(rng.randn(STEPS, BATCH, *in_shape) * 16), -127, 127).astype(np.int8)
    labels = rng.randint(0, 10, size=(STEPS, BATCH)).astype(np.int32)
    x0 = torch.from_numpy(x_q[0, :1].astype(np.float32) / X_SCALE)
    m = export(model, (x0,), name, 13, training=torch.onnx.TrainingMode.PRESERVE,
               dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    d = os.path.join(MODELS_DIR, name)
    os.makedirs(d, exist_ok=True)
    data = dict(x_q=x_q, labels=labels)
    save_npz(os.path.join(d, "data.npz"), **data)

    cases = [(c, dict(DEFAULTS, **o), None) for c, o in OPTIMIZERS.items()]
    cases.append((frozen["case"], dict(DEFAULTS, **OPTIMIZERS[frozen["optimizer"]]), frozen))
    for case, cfg, fr in cases:
        kw = {}
        if fr is not None:
            if isinstance(fr["trainable"], list):
                kw["trainable_names"] = fr["trainable"]
            else:
                kw["trainable_modules"] = fr["torch_trainable"]
        losses, final, probe, ignore_loss = train_case(key, cls, data, cfg, **kw)
        config = dict(cfg, trainable=list(final), model=name, steps=STEPS, batch=BATCH,
                      x_scale=X_SCALE)
        arrays = {"w/" + n: a for n, a in final.items()}
        save_npz(os.path.join(d, case + ".npz"), config=np.array(json.dumps(config, sort_keys=True)),
                 losses=losses, probe=probe, ignore_loss=ignore_loss, **arrays)
        print("%-18s %-9s loss %.4f -> %.4f  trainable %s" %
              (key + "_" + case, cfg["optimizer"], losses[0], losses[-1],
               ", ".join(final)))
    print("%-18s opset 13 %s" % (name, compact_ops(op_list(m))))


# Extra modes on the goldens above (see tests/train/run.sh):
#   accumulate: --batch 4 --accumulate 2 must equal the batch-8 run;
#   nonfinite:  NaN inputs and a huge lr are refused without touching the weights.
EXTRA = [
    ("mlp_momentum_acc2", "train_mlp", "momentum", "momentum", "-", "accumulate"),
    ("cnn_bn_adam_acc2", "train_cnn_bn", "adam", "adam", "-", "accumulate"),
    ("mlp_adam_nonfinite", "train_mlp", "adam", "adam", "-", "nonfinite"),
    ("lenet_sgd_nonfinite", "train_lenet", "sgd", "sgd", "-", "nonfinite"),
]


def trainable_flag(frozen):
    t = frozen["trainable"]
    return t if isinstance(t, str) else ",".join(t)


def write_manifest():
    """The case list; "-" trains every weight (onnxcc's default, BatchNorm excluded)."""
    path = os.path.join(MODELS_DIR, "train_cases.txt")
    rows = []
    for key, (_, _, _, frozen) in MODELS.items():
        for case, o in OPTIMIZERS.items():
            rows.append((key + "_" + case, "train_" + key, case, o["optimizer"], "-"))
        rows.append((key + "_" + frozen["case"], "train_" + key, frozen["case"],
                     OPTIMIZERS[frozen["optimizer"]]["optimizer"], trainable_flag(frozen)))
    by_case = {r[0]: r for r in rows}
    lines = ["# Training-parity cases, written by models/make_train_models.py; read by",
             "# tests/train/run.sh. Golden data: models/<model>/<golden>.npz.",
             "# mode: parity (batch 8), accumulate (batch 4, --accumulate 2),",
             "# nonfinite (parity plus NaN input and huge-lr steps that must not update).",
             "# case               model          golden     optimizer  mode        trainable"]
    for r in rows:
        lines.append("%-20s %-14s %-10s %-10s %-11s %s" % (r[0], r[1], r[2], r[3], "parity", r[4]))
    for case, model, golden, opt, trainable, mode in EXTRA:
        src = by_case.get(model[len("train_"):] + "_" + golden)
        if src is not None:
            trainable = src[4]
        lines.append("%-20s %-14s %-10s %-10s %-11s %s" % (case, model, golden, opt, mode, trainable))
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def main(argv):
    import warnings
    warnings.filterwarnings("ignore", category=UserWarning)
    keys = argv or list(MODELS)
    for key in MODELS:
        if key in keys:
            make_model(key)
    write_manifest()


if __name__ == "__main__":
    main(sys.argv[1:])
