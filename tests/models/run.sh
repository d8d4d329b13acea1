#!/bin/sh
# Checks every real export in models/ against its PyTorch goldens with
# `onnxcc verify` (compile, build with -Werror, run, compare), and builds
# each generated file with gcc and clang under the warning flags promised
# for generated code. The list is tests/models/models.txt.
set -u
ONNXCC=${ONNXCC:-build/onnxcc}
WFLAGS="-std=c99 -Wall -Wextra -pedantic -Werror -Iruntime"
out=build/tests/models
mkdir -p "$out"
pass=0 fail=0
while read -r model data flags; do
  case "$model" in ''|'#'*) continue ;; esac
  if $ONNXCC verify $flags "models/$model.onnx" models/"$data"/test_data_set_* > "$out/$data.log" 2>&1; then
    pass=$((pass + 1)); echo "PASS verify $data"
  else
    fail=$((fail + 1)); echo "FAIL verify $data"; cat "$out/$data.log"
  fi
  for cc in gcc clang; do
    command -v $cc >/dev/null || continue
    if $ONNXCC compile $flags "models/$model.onnx" -o "$out/$data.c" 2>"$out/$data.$cc.log" &&
       $cc $WFLAGS -c "$out/$data.c" -o "$out/$data.$cc.o" 2>>"$out/$data.$cc.log"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1)); echo "FAIL $cc -Werror $data"; cat "$out/$data.$cc.log"
    fi
  done
done < tests/models/models.txt
# The compiler itself is valgrind-clean (no leaks, no invalid reads) on every model.
if command -v valgrind >/dev/null; then
  for m in models/*.onnx; do
    if valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 \
         $ONNXCC compile --eval "$m" -o "$out/valgrind.c" > "$out/valgrind.log" 2>&1; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1)); echo "FAIL valgrind $m"; cat "$out/valgrind.log"
    fi
  done
fi
/usr/bin/python3 tests/models/check_weights.py models/lenet5_op13.onnx models/activations_op13.onnx \
  models/keras_cnn.onnx models/mlp_op11.onnx || fail=$((fail + 1))
echo "models: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
