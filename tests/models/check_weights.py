#!/usr/bin/python3
"""Checks that weights in generated C are bit-exact copies of the ONNX initializers.

For each model given, compiles it with onnxcc, parses every
`static const float w_...[N] = {...};` array (hexadecimal float literals,
or NAN / HUGE_VALF) of the generated file whose
comment names an initializer, and compares the float32 bits with the
initializer read by python3-onnx. Arrays the compiler derived (folded
BatchNormalization, transposed constants) carry a different name and are
not compared. Prints "N passed, N failed".
"""
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

ARRAY = re.compile(r"/\* '([^']*)' \([^)]*\) \*/\nstatic const float \w+\[\d+\] = \{([^}]*)\};")


def c_float(text):
    text = text.strip()
    if text in ("NAN", "-NAN"):
        return np.float32("nan")
    if text.endswith("HUGE_VALF"):
        return np.float32("-inf" if text.startswith("-") else "inf")
    if "0x" in text:  # C99 hexadecimal float (the weights): exact, 'f' suffix
        return np.float32(float.fromhex(text[:-1]))
    return np.float32(float(text.rstrip("f")))


def check(model_path, out_c):
    subprocess.run(["build/onnxcc", "compile", model_path, "-o", out_c], check=True)
    source = open(out_c).read()
    inits = {t.name: numpy_helper.to_array(t).astype(np.float32).ravel()
             for t in onnx.load(model_path).graph.initializer}
    compared = bad = 0
    for name, body in ARRAY.findall(source):
        if name not in inits:
            continue
        values = np.array([c_float(v) for v in body.replace("\n", " ").split(",") if v.strip()],
                          dtype=np.float32)
        compared += 1
        if values.shape != inits[name].shape or \
                not np.array_equal(values.view(np.uint32), inits[name].view(np.uint32)):
            bad += 1
            print(f"FAIL {model_path}: weight '{name}' differs from its initializer")
    if compared == 0:
        print(f"FAIL {model_path}: no weights compared")
        bad += 1
    return compared, bad


def main(models):
    passed = failed = 0
    for m in models:
        compared, bad = check(m, "build/tests/models/weights_check.c")
        passed += compared - bad
        failed += bad
    print(f"weights: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
