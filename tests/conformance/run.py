#!/usr/bin/python3
"""ONNX conformance: every case of Debian's libonnx-testdata through onnxcc verify.

Each case (a folder with model.onnx and test_data_set_N/) is compiled, built,
run and compared by `onnxcc verify`. Its outcome is one of
  PASS                   every output of every data set matches
  SKIP <reason>          onnxcc refuses the model cleanly (unsupported operator,
                         attribute, data type, ...): the reason is its error line
  FAIL <reason>          anything else: a mismatch, a crash, a build error
The outcomes are compared with the checked-in list tests/conformance/expected.txt;
any difference fails the run, so a regression (PASS -> anything) or an
unexplained change is caught. `--update` rewrites the list instead.
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys

DATA = "/usr/share/libonnx-testdata/data"
SUITES = ["node", "pytorch-converted", "pytorch-operator", "simple"]
HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "expected.txt")
# What a clean refusal looks like: the compiler said the model is outside
# what it supports (not that something is broken).
REFUSAL = re.compile(r"is not supported|only float32|must be known at compile time|"
                     r"not a DAG|supports opsets|is only supported|only .* outputs are supported|imports no opset|"
                     r"not a tensor|training mode")


def cases():
    for suite in SUITES:
        root = os.path.join(DATA, suite)
        for name in sorted(os.listdir(root)):
            path = os.path.join(root, name)
            if os.path.isfile(os.path.join(path, "model.onnx")):
                yield suite + "/" + name, path


def first_error(stderr):
    for line in stderr.splitlines():
        line = line.strip()
        if not line or line.startswith("hint:"):
            continue
        # Drop the model path: the case name already says which file.
        line = re.sub(r"^\S*model\.onnx: ", "", line)
        return line[:200]
    return "no message"


def run_case(onnxcc, name, path):
    sets = sorted(d for d in os.listdir(path) if d.startswith("test_data_set_"))
    if not sets:
        return name, "SKIP", "no test data sets"
    cmd = [onnxcc, "verify", os.path.join(path, "model.onnx")] + [os.path.join(path, s) for s in sets]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return name, "FAIL", "timed out"
    if p.returncode == 0:
        return name, "PASS", ""
    err = first_error(p.stderr)
    if p.returncode == 1 and not p.stdout.strip().endswith("FAIL") and REFUSAL.search(err):
        return name, "SKIP", err
    if p.stdout.strip().endswith("FAIL"):
        bad = [l.strip() for l in p.stdout.splitlines() if l.strip().endswith("FAIL") or "FAIL (" in l]
        return name, "FAIL", (bad[0] if bad else "mismatch")[:200]
    return name, "FAIL", f"exit {p.returncode}: {err}"


def read_expected():
    expected = {}
    if os.path.exists(EXPECTED):
        for line in open(EXPECTED):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            name, status, *reason = line.split(" ", 2)
            expected[name] = (status, reason[0] if reason else "")
    return expected


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxcc", default="build/onnxcc")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--update", action="store_true", help="rewrite expected.txt")
    ap.add_argument("--filter", default="", help="only cases whose name contains this")
    ap.add_argument("--results", default="build/conformance.txt")
    args = ap.parse_args()
    todo = [(n, p) for n, p in cases() if args.filter in n]
    results = {}
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for name, status, reason in pool.map(lambda c: run_case(args.onnxcc, *c), todo):
            results[name] = (status, reason)
    os.makedirs(os.path.dirname(args.results) or ".", exist_ok=True)
    with open(args.results, "w") as f:
        for name in sorted(results):
            status, reason = results[name]
            f.write(f"{name} {status} {reason}".rstrip() + "\n")
    totals = {}
    for suite in SUITES:
        for status in ("PASS", "SKIP", "FAIL"):
            totals[(suite, status)] = sum(1 for n, (s, _) in results.items()
                                          if n.startswith(suite + "/") and s == status)
    for suite in SUITES:
        print(f"conformance {suite}: {totals[(suite, 'PASS')]} pass, "
              f"{totals[(suite, 'SKIP')]} skipped (unsupported), {totals[(suite, 'FAIL')]} fail")
    if args.update:
        with open(EXPECTED, "w") as f:
            f.write("# Expected outcome of every ONNX conformance case (tests/conformance/run.py).\n"
                    "# PASS: compiled C matches the reference outputs. SKIP: onnxcc refuses the\n"
                    "# model cleanly, with the reason given. Regenerate with run.py --update.\n")
            for name in sorted(results):
                status, reason = results[name]
                f.write(f"{name} {status} {reason}".rstrip() + "\n")
        print(f"wrote {EXPECTED}")
        return 0
    expected = read_expected()
    diffs = []
    for name in sorted(results):
        got = results[name]
        want = expected.get(name)
        if args.filter == "" and want is None:
            diffs.append(f"{name}: not in expected.txt, got {got[0]} {got[1]}")
        elif want is not None and got[0] != want[0]:
            diffs.append(f"{name}: expected {want[0]}, got {got[0]} {got[1]}")
    if not args.filter:
        for name in expected:
            if name not in results:
                diffs.append(f"{name}: in expected.txt but the case no longer exists")
    failed = sum(1 for s, _ in results.values() if s == "FAIL")
    for d in diffs:
        print("DIFF", d)
    passed = sum(1 for s, _ in results.values() if s == "PASS")
    print(f"{passed} passed, {len(diffs)} failed")
    return 1 if diffs or failed else 0


if __name__ == "__main__":
    sys.exit(main())
