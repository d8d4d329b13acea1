#!/bin/sh
# Every malformed or hostile model of tests/malformed/make_corpus.py must be
# refused cleanly: the exit code of tests/malformed/expected.txt (1), a first
# message line that starts with the model's path, the expected fragment in
# the output, no crash, and no half-written output left behind. The few
# edge cases that are legal (exit code 0, fragment "-") must compile, and
# their generated C must build with -Werror, as static and --arena caller. A case
# that make_corpus.py writes but expected.txt does not list (or the reverse)
# fails.
set -u
ONNXCC=${ONNXCC:-build/onnxcc}
DIR=${MALFORMED:-build/malformed}
WFLAGS="-std=c99 -Wall -Wextra -pedantic -Werror -Iruntime"
tmp=build/tests/malformed
mkdir -p "$tmp"
pass=0 fail=0
listed=" "
while read -r name code fragment; do
  case "$name" in ''|'#'*) continue ;; esac
  listed="$listed$name "
  model="$DIR/$name.onnx"
  if [ ! -f "$model" ]; then
    fail=$((fail + 1)); echo "FAIL $name: $model was not generated"; continue
  fi
  flags=$(cat "$DIR/$name.flags" 2>/dev/null)
  rm -f "$tmp/out.c" "$tmp/out.h"
  # shellcheck disable=SC2086 # flags are words
  timeout 60 $ONNXCC compile $flags "$model" -o "$tmp/out.c" > "$tmp/$name.log" 2>&1
  got=$?
  first=$(head -n 1 "$tmp/$name.log")
  if [ "$got" -ne "$code" ]; then
    fail=$((fail + 1)); echo "FAIL $name: exit $got, want $code"; cat "$tmp/$name.log"
  elif [ "$code" -eq 0 ]; then
    # shellcheck disable=SC2086
    if [ -s "$tmp/out.c" ] && [ -s "$tmp/out.h" ] &&
       cc $WFLAGS -c "$tmp/out.c" -o "$tmp/out.o" >> "$tmp/$name.log" 2>&1 &&
       $ONNXCC compile $flags --arena caller "$model" -o "$tmp/out.c" >> "$tmp/$name.log" 2>&1 &&
       cc $WFLAGS -c "$tmp/out.c" -o "$tmp/out.o" >> "$tmp/$name.log" 2>&1; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1)); echo "FAIL $name: no output, or it does not build"; cat "$tmp/$name.log"
    fi
  elif [ "${first#"$model: "}" = "$first" ]; then
    fail=$((fail + 1)); echo "FAIL $name: the first message does not start with '$model: '"
    cat "$tmp/$name.log"
  elif ! grep -qF -- "$fragment" "$tmp/$name.log"; then
    fail=$((fail + 1)); echo "FAIL $name: want a message containing: $fragment"
    cat "$tmp/$name.log"
  elif [ -e "$tmp/out.c" ] || [ -e "$tmp/out.h" ]; then
    fail=$((fail + 1)); echo "FAIL $name: output files left behind"
  else
    pass=$((pass + 1))
  fi
done < tests/malformed/expected.txt
for model in "$DIR"/*.onnx; do
  name=$(basename "$model" .onnx)
  case "$listed" in *" $name "*) ;; *) fail=$((fail + 1)); echo "FAIL $name: not in expected.txt" ;; esac
done
echo "malformed: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
