#!/bin/sh
# The checks of `make mcu-test`, after the Makefile has built the firmware
# into build/mcu/. Prints one line per check and "mcu: N passed, N failed".
#
# From the Makefile's "Cortex-M" section, in the environment:
#   MCU_CORES      core:board pairs, e.g. "m4f:mps2-an386 m3:mps2-an385"
#   MCU_MODELS     models that have a build/mcu/CORE/test_MODEL.elf
#   MCU_TRAIN      training cases that have a build/mcu/CORE/train_CASE.elf
#   MCU_CC_<core>  the command that compiles C for that core, with the
#                  bare-metal warning flags
#   ONNXCC, MAKE
#
# For each core:
#   1. each test_MODEL.elf under QEMU (-icount shift=0, semihosting, stdin
#      from /dev/null): its PASS/FAIL lines, its exit code (the number of
#      failed checks) and its result line (tests/mcu/test_model.c);
#   2. check_link.py on the model's object and the runtime archive: only
#      string, memory, single-precision libm and arithmetic helper symbols;
#   3. each train_CASE.elf under QEMU the same way (tests/mcu/test_train.c:
#      20 training steps against PyTorch's), and check_link.py on its
#      generated net.o (compiled with --train) and the runtime archive;
#   4. every model of tests/models/models.txt compiled for the core under
#      -Werror, and every case of models/train_cases.txt compiled with
#      --train as tests/train/run.sh compiles it (--name net, its batch,
#      --accumulate, --optimizer and --trainable).
# Then the workspace test (Cortex-M4F, tests/mcu/test_workspaces.c) and the
# example, examples/cortex-m/, built and run through its own Makefile.
set -u
ONNXCC=${ONNXCC:-build/onnxcc}
MAKE=${MAKE:-make}
out=build/mcu
pass=0 fail=0

# qemu BOARD ELF LOG: runs ELF, counts its PASS and FAIL lines; a non-zero
# exit without a FAIL line (a crash, a hang) or a missing result line counts
# as one failure more.
qemu() {
  timeout 300 qemu-system-arm -M "$1" -nographic -semihosting -icount shift=0 -kernel "$2" \
    < /dev/null > "$3" 2>&1
  code=$?
  grep -E '^(PASS|FAIL)' "$3"
  p=$(grep -c '^PASS' "$3") f=$(grep -c '^FAIL' "$3")
  pass=$((pass + p)) fail=$((fail + f))
  if { [ "$code" -ne 0 ] && [ "$f" -eq 0 ]; } || ! grep -q '^result ' "$3"; then
    fail=$((fail + 1)); echo "FAIL $2: exit code $code, output:"; cat "$3"
  fi
}

count() {
  if [ "$1" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
}

for pair in $MCU_CORES; do
  core=${pair%%:*} board=${pair#*:}
  eval "cc=\$MCU_CC_$core"
  for model in $MCU_MODELS; do
    qemu "$board" "$out/$core/test_$model.elf" "$out/$core/test_$model.log"
    /usr/bin/python3 tests/mcu/check_link.py "$core/$model" "$out/$core/test_$model.map" \
      "$out/$core/gen/$model.o" "$out/$core/libonnxcc.a"
    count $?
  done
  for case in ${MCU_TRAIN:-}; do
    qemu "$board" "$out/$core/train_$case.elf" "$out/$core/train_$case.log"
    /usr/bin/python3 tests/mcu/check_link.py "$core/train_$case" "$out/$core/train_$case.map" \
      "$out/$core/train/$case/net.o" "$out/$core/libonnxcc.a"
    count $?
  done
  # Every real export, as tests/models/run.sh compiles it for the host.
  mkdir -p "$out/$core/all"
  ok=0 bad=0
  while read -r model data flags; do
    case "$model" in ''|'#'*) continue ;; esac
    if $ONNXCC compile $flags "models/$model.onnx" -o "$out/$core/all/$data.c" > "$out/$core/all/$data.log" 2>&1 &&
       $cc -c "$out/$core/all/$data.c" -o "$out/$core/all/$data.o" >> "$out/$core/all/$data.log" 2>&1; then
      ok=$((ok + 1))
    else
      bad=$((bad + 1)); echo "FAIL $core: models/$model.onnx $flags"; cat "$out/$core/all/$data.log"
    fi
  done < tests/models/models.txt
  [ "$bad" -eq 0 ] && echo "PASS $core: all $ok models of tests/models/models.txt compile under -Werror"
  count "$bad"
  mkdir -p "$out/$core/all_train"
  ok=0 bad=0
  while read -r name model golden optimizer mode trainable; do
    case "$name" in ''|'#'*) continue ;; esac
    flags="--batch 8"
    [ "$mode" = accumulate ] && flags="--batch 4 --accumulate 2"
    [ "$trainable" != - ] && flags="$flags --trainable $trainable"
    d=$out/$core/all_train/$name
    if $ONNXCC compile "models/$model.onnx" --name net --train $flags --optimizer "$optimizer" \
         -o "$d.c" > "$d.log" 2>&1 && $cc -c "$d.c" -o "$d.o" >> "$d.log" 2>&1; then
      ok=$((ok + 1))
    else
      bad=$((bad + 1)); echo "FAIL $core: --train case $name of models/train_cases.txt"; cat "$d.log"
    fi
  done < models/train_cases.txt
  [ "$bad" -eq 0 ] && echo "PASS $core: all $ok cases of models/train_cases.txt compile with --train under -Werror"
  count "$bad"
done

# Instances with their own workspaces (Cortex-M4F).
qemu mps2-an386 "$out/m4f/test_workspaces.elf" "$out/m4f/test_workspaces.log"
ram=$(arm-none-eabi-size "$out/m4f/gen/lenet_ws.o" | awk 'NR == 2 {print $2 + $3}')
if [ "$ram" = 0 ]; then
  echo "PASS workspaces: lenet_ws.o (--arena caller) has no .data or .bss of its own"
  count 0
else
  echo "FAIL workspaces: lenet_ws.o (--arena caller) has $ram bytes of .data and .bss"
  count 1
fi

# The example, through its own Makefile.
log=$out/example.log
if $MAKE -s --no-print-directory -C examples/cortex-m run TOP="$(pwd)" ONNXCC="$(pwd)/$ONNXCC" \
     OUT="$(pwd)/$out/example" > "$log" 2>&1 && grep -q 'agreement with PyTorch 10/10' "$log"; then
  echo "PASS example: examples/cortex-m, $(grep '^accuracy' "$log")"
  count 0
else
  echo "FAIL example: examples/cortex-m"; cat "$log"
  count 1
fi

echo "mcu: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
