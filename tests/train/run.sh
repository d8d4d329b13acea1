#!/bin/sh
# Training parity: every case of models/train_cases.txt (written by
# models/make_train_models.py) is compiled with `onnxcc compile --train`,
# built with the warning flags promised for generated code together with
# tests/train/harness.c and the case's data (tests/train/gen_case.py), and
# run: 20 training steps against the same run in PyTorch. See harness.c
# for what is compared and the tolerances.
set -u
ONNXCC=${ONNXCC:-build/onnxcc}
CC=${CC:-cc}
PYTHON=${PYTHON:-/usr/bin/python3}
WFLAGS="-std=c99 -O2 -Wall -Wextra -pedantic -Werror"
out=build/tests/train
pass=0 fail=0
while read -r name model golden optimizer mode trainable; do
  case "$name" in ''|'#'*) continue ;; esac
  d=$out/$name
  mkdir -p "$d"
  batch="--batch 8"
  [ "$mode" = accumulate ] && batch="--batch 4 --accumulate 2"
  select=""
  [ "$trainable" != - ] && select="--trainable $trainable"
  if $ONNXCC compile "models/$model.onnx" --name net -o "$d/net.c" --train $batch \
       --optimizer "$optimizer" $select > "$d/build.log" 2>&1 &&
     $PYTHON tests/train/gen_case.py "models/$model/data.npz" "models/$model/$golden.npz" \
       "$name" "$mode" > "$d/case.h" 2>> "$d/build.log" &&
     $CC $WFLAGS -Iruntime -I"$d" tests/train/harness.c build/libonnxcc.a -lm \
       -o "$d/harness" >> "$d/build.log" 2>&1; then
    if "$d/harness" > "$d/run.log" 2>&1; then
      pass=$((pass + 1)); echo "PASS $name"; sed -n 's/^  /    /p' "$d/run.log"
    else
      fail=$((fail + 1)); echo "FAIL $name"; sed 's/^/    /' "$d/run.log"
    fi
  else
    fail=$((fail + 1)); echo "FAIL $name (build)"; sed 's/^/    /' "$d/build.log" | head -20
  fi
done < models/train_cases.txt
echo "train: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
