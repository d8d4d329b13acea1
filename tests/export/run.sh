#!/bin/sh
# Checkpoint round trip: train the compiled digits model in C, save a
# checkpoint, `onnxcc export` it into the ONNX model, and check with
# PyTorch that the exported model computes what the trained C computes.
set -eu
out=build/tests/export
mkdir -p "$out"
build/onnxcc compile models/digits_mlp.onnx --name digits --train --batch 4 -o "$out/digits.c"
cc -std=c99 -O2 -Wall -Wextra -pedantic -Werror -Iruntime -Iruntime/host -I"$out" \
  tests/export/train_and_save.c "$out/digits.c" build/libonnxcc.a build/libonnxcc_host.a -lm \
  -o "$out/train_and_save"
"$out/train_and_save" "$out/digits.ckpt" "$out/probe.bin"
build/onnxcc export models/digits_mlp.onnx "$out/digits.ckpt" -o "$out/tuned.onnx"
/usr/bin/python3 tests/export/check_export.py models/digits_mlp.onnx "$out/tuned.onnx" "$out/probe.bin"
# A checkpoint of another model is refused by export too.
printf 'ONXCCKPT garbage' > "$out/bad.ckpt"
if build/onnxcc export models/digits_mlp.onnx "$out/bad.ckpt" -o "$out/bad.onnx" 2>"$out/bad.log"; then
  echo "FAIL: export accepted a bad checkpoint"; exit 1
fi
grep -q "bad.ckpt" "$out/bad.log"
echo "export: 2 passed, 0 failed"
