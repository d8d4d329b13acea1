#!/usr/bin/python3
"""Times one PyTorch SGD training step of a small model, for bench/run.py.

    /usr/bin/python3 bench/torch_train.py MODEL BATCH [TRAINABLE]

MODEL is mlp, lenet5 or activations (the modules of models/make_models.py, the
same networks bench/export_models.py exports); TRAINABLE is "all" (default) or
"last:1" (only the last module that has parameters, as onnxcc's --trainable
last:1). One thread; plain SGD, lr 0.01 (onnxcc's default), no momentum; the
loss is cross-entropy on the logits, or NLL when the model already ends in
LogSoftmax, as onnxcc's fused loss does. Same stdin/stdout protocol as
bench/harness.c: "N" runs N steps and answers the nanoseconds per step, "p" answers
"ok", "q" exits.
"""
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from export_models import INPUT_SHAPES, small_module  # noqa: E402


def main(name, batch, trainable="all"):
    torch.set_num_threads(1)
    torch.manual_seed(11)
    model = small_module(name).train()
    params = list(model.parameters())
    if trainable == "last:1":
        last = [m for m in model.modules() if list(m.parameters(recurse=False))][-1]
        for p in params:
            p.requires_grad_(False)
        params = list(last.parameters())
        for p in params:
            p.requires_grad_(True)
    elif trainable != "all":
        raise SystemExit("torch_train: TRAINABLE is all or last:1")
    opt = torch.optim.SGD(params, lr=0.01)
    loss_fn = F.nll_loss if name == "activations" else F.cross_entropy
    x = torch.rand(batch, *INPUT_SHAPES[name][1:]) * 2 - 1
    y = torch.arange(batch) % 10

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for line in sys.stdin:
        if line.startswith("q"):
            break
        if line.startswith("p"):
            print("ok", flush=True)
            continue
        n = max(1, int(line))
        t0 = time.perf_counter_ns()
        for _ in range(n):
            step()
        t1 = time.perf_counter_ns()
        print("%.1f" % ((t1 - t0) / n), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:])
