#!/bin/sh
# The command line's contract: exit 0 on success, 1 on a bad model or a
# mismatch, 2 on bad usage; messages on stderr name the file and problem.
set -u
ONNXCC=${ONNXCC:-build/onnxcc}
tmp=build/tests/cli
mkdir -p "$tmp"
pass=0 fail=0

# expect CODE PATTERN ARGS...: runs onnxcc ARGS, checks the exit code and
# that stderr+stdout contain PATTERN (a fixed string).
expect() {
  code=$1 pattern=$2
  shift 2
  $ONNXCC "$@" > "$tmp/out" 2>&1
  got=$?
  if [ "$got" -eq "$code" ] && { [ -z "$pattern" ] || grep -qF -- "$pattern" "$tmp/out"; }; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: onnxcc $* -> exit $got (want $code), want output containing: $pattern"
    cat "$tmp/out"
  fi
}

expect 2 "usage: onnxcc" 
expect 2 "unknown command 'frobnicate'" frobnicate x.onnx
expect 2 "unknown option '--speed'" compile models/mlp_op13.onnx --speed
expect 2 "--batch needs a positive integer, got '0'" compile models/mlp_op13.onnx --batch 0
expect 2 "expected NAME=VALUE, got 'height'" compile models/mlp_op13.onnx --dim height
expect 2 "verify needs at least one test-data folder" verify models/mlp_op13.onnx
expect 0 "usage: onnxcc" --help
expect 1 "build/no_such.onnx: cannot open" compile build/no_such.onnx
printf 'garbage' > "$tmp/garbage.onnx"
expect 1 "$tmp/garbage.onnx: not an ONNX model" compile "$tmp/garbage.onnx" -o "$tmp/g.c"
[ ! -e "$tmp/g.c" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: output left behind"; }
expect 1 "models/conv_bn_dropout_train.onnx: node 1 '/bn1/BatchNormalization' (BatchNormalization): training mode" \
  compile models/conv_bn_dropout_train.onnx -o "$tmp/t.c"
expect 1 "hint: export with model.eval(), or compile with --eval" compile models/conv_bn_dropout_train.onnx -o "$tmp/t.c"
expect 0 "" compile models/mlp_op13.onnx -o "$tmp/mlp.c"
[ -s "$tmp/mlp.c" ] && [ -s "$tmp/mlp.h" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: no mlp.c/mlp.h"; }
expect 0 "lower bound:" info models/lenet5_op13.onnx
# Packed conv weights only for x86-64: the default target keeps the plain kernels.
expect 2 "--target is 'generic' or 'x86-64', got 'arm64'" compile models/resnet_blocks.onnx --target arm64
expect 0 "" compile models/resnet_blocks.onnx -o "$tmp/rb.c"
! grep -q "nn_conv_packed_forward" "$tmp/rb.c" && pass=$((pass + 1)) ||
  { fail=$((fail + 1)); echo "FAIL: resnet_blocks: packed weights without --target x86-64"; }
# Both residual Adds (and the ReLUs after them) go into the packed convs before them.
expect 0 "" compile models/resnet_blocks.onnx --target x86-64 -o "$tmp/rb.c"
[ "$(grep -c "), plus node .* (Add), fused node .* (Relu)" "$tmp/rb.c")" -eq 2 ] && pass=$((pass + 1)) ||
  { fail=$((fail + 1)); echo "FAIL: resnet_blocks: want 2 convs with a fused Add and Relu"; }
# Each packed conv but the last hands the next one's packed weights over for prefetching.
[ "$(grep -c "_packed, [0-9]*, &p);" "$tmp/rb.c")" -eq 4 ] && grep -q "NULL, 0, &p);" "$tmp/rb.c" &&
  pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: resnet_blocks: want 4 prefetch hints"; }
expect 0 "PASS" verify models/mlp_op13.onnx models/mlp_op13/test_data_set_0
# A golden that does not match: the batch-3 data against a batch-1 build.
expect 1 "compile with --batch N" verify models/flatten_dynamic.onnx models/flatten_dynamic_batch3/test_data_set_0
# Tight tolerances turn a small float difference into a reported mismatch.
expect 1 "FAIL" verify --rtol 0 --atol 0 models/activations_op13.onnx models/activations_op13/test_data_set_0
expect 0 "max abs err" verify --rtol 0.01 models/activations_op13.onnx models/activations_op13/test_data_set_0
# A symbolic dimension other than the batch needs --dim; the batch needs nothing.
/usr/bin/python3 - "$tmp/symbolic.onnx" <<'PY'
import sys
from onnx import helper, TensorProto, save
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "width"])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "width"])
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g", [x], [y])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
PY
expect 1 "graph input 'x' dimension 1 ('width') is not fixed" compile "$tmp/symbolic.onnx" -o "$tmp/s.c"
expect 1 "hint: give it a value with --dim width=VALUE" compile "$tmp/symbolic.onnx" -o "$tmp/s.c"
expect 0 "" compile "$tmp/symbolic.onnx" --dim width=5 --batch 2 -o "$tmp/s.c"
grep -q "#define SYMBOLIC_INPUT_0_SHAPE {2, 5}" "$tmp/s.h" && pass=$((pass + 1)) ||
  { fail=$((fail + 1)); echo "FAIL: --dim/--batch did not fix the shape"; }

# Generated headers are self-contained: each compiles as the first include.
for flags in "" "--train --batch 2" "--arena caller"; do
  $ONNXCC compile models/digits_mlp.onnx $flags --name net -o "$tmp/net.c" &&
  printf '#include "net.h"\nint net_header_compiles;\n' > "$tmp/header_only.c" &&
  cc -std=c99 -Wall -Wextra -pedantic -Werror -I"$tmp" -c "$tmp/header_only.c" -o "$tmp/h.o" &&
    pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: header of '$flags' is not self-contained"; }
done

# A model path that would close a C comment still gives code that builds.
mkdir -p "$tmp/odd*" && cp models/mlp_op13.onnx "$tmp/odd*/m.onnx"
$ONNXCC compile "$tmp/odd*/m.onnx" -o "$tmp/odd.c" &&
  cc -std=c99 -Wall -Wextra -pedantic -Werror -Iruntime -c "$tmp/odd.c" -o "$tmp/odd.o" &&
  pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: a path holding */ breaks the generated comment"; }

# Two models with different --name link into one program.
if $ONNXCC compile models/lenet5_op13.onnx --name lenet -o "$tmp/lenet.c" &&
   $ONNXCC compile models/mlp_op13.onnx --name mlp -o "$tmp/mlp.c" &&
   cc -std=c99 -Wall -Wextra -pedantic -Werror -Iruntime -I"$tmp" tests/cli/two_models.c \
     "$tmp/lenet.c" "$tmp/mlp.c" build/libonnxcc.a -lm -o "$tmp/two_models" &&
   "$tmp/two_models" | grep -q "lenet input"; then
  pass=$((pass + 1))
else
  fail=$((fail + 1)); echo "FAIL: two models in one program"
fi
# The header's byte counts are what the file declares: NAME_WEIGHT_BYTES (and
# for training NAME_FROZEN_WEIGHT_BYTES) the static const float arrays,
# NAME_TRAINABLE_WEIGHT_BYTES the static (writable) ones. train_cnn_bn keeps
# its BatchNormalization unfolded, whose folded scale and shift count too.
array_bytes() { # FILE.c REGEX: 4 x the summed lengths of the arrays it declares
  awk -v re="$2" '$0 ~ re {
    n = $0; sub(/^[^[]*\[/, "", n); sub(/\].*/, "", n); sum += 4 * n } END { print sum + 0 }' "$1"
}
CONST_ARRAYS='^ *static const float [A-Za-z_][A-Za-z_0-9]*\[[0-9]+\]' # at file or block scope
PARAM_ARRAYS='^static float w_[A-Za-z_0-9]*\[[0-9]+\]'              # trainable weights
header_bytes() { # FILE.h MACRO
  awk -v m="$2" '$1 == "#define" && $2 == m { print $3 }' "$1"
}
check_bytes() { # WHAT DECLARED COUNTED
  if [ -n "$2" ] && [ "$2" = "$3" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $1: header says '$2' bytes, the file declares $3"; fi
}
for m in lenet5_op13 activations_op13 train_cnn_bn; do
  $ONNXCC compile models/$m.onnx --name net -o "$tmp/bytes.c" > /dev/null 2>&1
  check_bytes "$m NET_WEIGHT_BYTES" "$(header_bytes "$tmp/bytes.h" NET_WEIGHT_BYTES)" \
    "$(array_bytes "$tmp/bytes.c" "$CONST_ARRAYS")"
done
for m in train_cnn_bn train_lenet; do
  $ONNXCC compile models/$m.onnx --train --batch 8 --name net -o "$tmp/bytes.c" > /dev/null 2>&1
  check_bytes "$m --train NET_FROZEN_WEIGHT_BYTES" \
    "$(header_bytes "$tmp/bytes.h" NET_FROZEN_WEIGHT_BYTES)" "$(array_bytes "$tmp/bytes.c" "$CONST_ARRAYS")"
  check_bytes "$m --train NET_TRAINABLE_WEIGHT_BYTES" \
    "$(header_bytes "$tmp/bytes.h" NET_TRAINABLE_WEIGHT_BYTES)" "$(array_bytes "$tmp/bytes.c" "$PARAM_ARRAYS")"
done

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
