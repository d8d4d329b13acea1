#!/usr/bin/python3
"""Checks what onnxcc's code asks of the C library on a Cortex-M.

usage: check_link.py LABEL MAP OBJECT...

OBJECT... are the generated model objects and the runtime archive
(libonnxcc.a), MAP the map of a firmware image that links them, written with
-Wl,-Map=MAP,--cref.

1. Every symbol the objects use and do not define themselves must be a memory
   or string function (memcpy, memset, memmove, memcmp, strlen), a
   single-precision libm function (expf, ...) or a compiler helper for float
   or integer arithmetic (__aeabi_fmul, __aeabi_idiv, ...): no stdio, no
   malloc, no double precision. Every member of the archive is checked,
   whether this image links it or not.
2. In the image, no double-precision function (exp, __aeabi_dmul, ...) may be
   referenced from a file of ours (anything outside the toolchain's /usr
   libraries). The ones the C library's own float functions use are listed:
   picolibc's logf, powf and log1pf convert one double constant each.

Prints one PASS or FAIL line per check and exits 1 if one fails.
"""
import re
import subprocess
import sys

NM = "arm-none-eabi-nm"
LIBM = ("acos asin atan atan2 cbrt ceil copysign cos cosh erf erfc exp exp2 expm1 fabs fdim "
        "floor fma fmax fmin fmod frexp hypot ldexp lgamma log log10 log1p log2 logb lrint "
        "lround modf nearbyint pow remainder rint round scalbn sin sinh sqrt tan tanh tgamma "
        "trunc").split()
ALLOWED = re.compile(
    r"^(mem(cpy|move|set|cmp)|strlen|__aeabi_mem(cpy|move|set|clr)[48]?"
    r"|(" + "|".join(LIBM) + r")f"
    r"|__aeabi_(f(add|sub|rsub|mul|div|cmp(eq|lt|le|ge|gt|un))|cf(cmpeq|cmple|rcmple)"
    r"|u?i2f|u?l2f|f2u?iz|f2u?lz|u?idiv(mod)?|u?ldivmod|lmul|llsl|llsr|lasr|u?lcmp))$")
DOUBLE = re.compile(r"^(__aeabi_(d\w+|cd\w+|\w+2d)|__\w+df\d|" + "|".join(LIBM) + r")$")


def nm(flag, objects):
    out = subprocess.run([NM, flag] + objects, check=True, capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines()
            if line.strip() and not line.endswith(":") and len(line.split()) >= 2}


def cross_references(map_path):
    """{symbol: [defining file, referencing file, ...]} from the map's --cref table."""
    table, symbol = {}, None
    lines = open(map_path).read().split("\nCross Reference Table\n", 1)[1].splitlines()
    for line in lines[3:]:
        if not line.strip():
            continue
        if not line[0].isspace():
            parts = line.split()
            symbol = parts[0]
            table[symbol] = parts[1:]
        else:
            table[symbol].append(line.strip())
    return table


def main(label, map_path, objects):
    failed = 0
    try:
        external = sorted(nm("-u", objects) - nm("--defined-only", objects))
    except subprocess.CalledProcessError as e:
        print("FAIL link %s: %s" % (label, e.stderr.strip()))
        return 1
    bad = [s for s in external if not ALLOWED.match(s)]
    if bad:
        print("FAIL link %s: model and runtime use %s" % (label, ", ".join(bad)))
        failed += 1
    else:
        print("PASS link %s: model and runtime use only %s" % (label, ", ".join(external)))

    ours_use, libc_use = [], []
    for symbol, files in sorted(cross_references(map_path).items()):
        if not DOUBLE.match(symbol):
            continue
        for f in files[1:]:
            if f.startswith("/usr/"):
                libc_use.append("%s in %s" % (symbol, re.sub(r".*\((.*)\)", r"\1", f)))
            else:
                ours_use.append("%s in %s" % (symbol, f))
    if ours_use:
        print("FAIL link %s: double precision used by %s" % (label, ", ".join(ours_use)))
        failed += 1
    else:
        print("PASS link %s: no double precision from our code%s" % (
            label, "; the C library's own: " + ", ".join(libc_use) if libc_use else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit("usage: check_link.py LABEL MAP OBJECT...")
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
