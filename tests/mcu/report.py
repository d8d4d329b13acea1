#!/usr/bin/python3
"""Prints the Cortex-M footprint and instruction tables (`make mcu-report`).

usage: report.py BUILD_MCU_DIR MODEL...
       report.py --train BUILD_MCU_DIR CASE...

For each core (m4f, m3) and model it reads, from BUILD_MCU_DIR/CORE/:
  test_MODEL.elf   section sizes, from `arm-none-eabi-size -A`
  test_MODEL.map   which file each input section came from (-Wl,-Map)
  test_MODEL.log   the test program's `result` line: instructions per
                   inference and the stack high-water marks it measured
and prints one markdown table:

  flash    .text + .rodata + .data (its initial values) of the whole test
           image; "model" is the generated file's share (its code, and its
           weights and parameter structs), "runtime" the kernels linked from
           libonnxcc.a, "C library" picolibc (libm, memcpy, printf, exit)
           and libgcc (soft-float helpers). The rest is startup.c and the
           test program with its golden data.
  RAM      .data + .bss + the stack's high-water mark since reset; "arena" is
           the model's static arena (its .bss), "stack in run()" the deepest
           the stack went below the caller's frame during one inference.
  instructions  executed by one inference under qemu -icount shift=0, for
           golden sets 0 and 1 (soft-float costs depend on the data).

With --train, the same for the training cases (tests/mcu/test_train.c), from
BUILD_MCU_DIR/CORE/train_CASE.{elf,map,log}; "model" is the generated net.o
of CASE (compiled with --train): its .data holds the trainable weights (in
RAM, their initial values in flash), its .bss the arena (activations kept
for backward, gradients, optimizer state) and the step count. RAM does not
count .workspace, where the test keeps its copy of the checkpoint.
  instructions  executed by one NAME_train_step() call (batch 8): the mean
           over the 20 steps of the run, and the fewest and most.
  stack in train_step()  the deepest the stack went below the caller's frame
           during one step, over the 20 steps.
"""
import re
import subprocess
import sys

CORES = [("m4f", "Cortex-M4F (hard float)"), ("m3", "Cortex-M3 (soft float)")]


def section_sizes(elf):
    out = subprocess.run(["arm-none-eabi-size", "-A", elf], check=True, capture_output=True,
                         text=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith("."):
            sizes[parts[0]] = int(parts[1])
    return sizes


def input_sections(map_path):
    """[(output section, input file, bytes)] from a GNU ld map."""
    text = open(map_path).read()
    text = text.split("\nLinker script and memory map\n", 1)[1].split("\nCross Reference Table", 1)[0]
    rows, output, pending = [], None, None
    entry = re.compile(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$")
    for line in text.splitlines():
        m = re.match(r"^(\.\w[\w.]*)\s", line + " ")
        if m and not line.startswith(" "):
            output = m.group(1)
            continue
        if pending is not None:
            m = entry.match(line)
            if m:
                rows.append((output, m.group(2), int(m.group(1), 16)))
            pending = None
            continue
        m = re.match(r"^ (\.\S+|COMMON)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if m:
            rows.append((output, m.group(3), int(m.group(2), 16)))
        elif re.match(r"^ (\.\S+|COMMON)$", line):
            pending = line.strip()
    return rows


def result_line(log_path):
    for line in open(log_path):
        if line.startswith("result "):
            return dict(kv.split("=", 1) for kv in line.split()[1:])
    sys.exit("%s: no result line (did the test run?)" % log_path)


def kb(n):
    return "%.1f KB" % (n / 1024.0)


def breakdown(base, object_suffix):
    """Sizes of one test image: whole-image flash and RAM, and the shares of the
    generated object (path ending in object_suffix), the runtime and the C library."""
    sizes = section_sizes(base + ".elf")
    r = dict(text=0, const=0, bss=0, data=0, runtime=0, libc=0)
    for output, path, size in input_sections(base + ".map"):
        if path.endswith(object_suffix):
            if output == ".text":
                r["text"] += size
            elif output == ".rodata":
                r["const"] += size
            elif output == ".data":
                r["const"] += size
                r["data"] += size
            elif output == ".bss":
                r["bss"] += size
        elif output not in (".text", ".rodata", ".data"):
            continue
        elif "libonnxcc.a(" in path:
            r["runtime"] += size
        elif re.search(r"/lib(c|m|gcc|semihost)\.a\(", path):
            r["libc"] += size
    r["flash"] = sizes[".text"] + sizes[".rodata"] + sizes[".data"]
    r["ram"] = sizes[".data"] + sizes[".bss"]
    return r


def main_train(build, cases):
    print("| core | case | instructions per train_step() (mean; fewest - most) | flash "
          "| of which model (code + weights) | of which runtime | of which C library | RAM "
          "| of which arena (activations, gradients, optimizer state) "
          "| of which trainable weights | stack in train_step() |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for core, core_name in CORES:
        for case in cases:
            base = "%s/%s/train_%s" % (build, core, case)
            r = breakdown(base, "/train/%s/net.o" % case)
            result = result_line(base + ".log")
            counts = [int(n) for n in result["instructions"].split(",")]
            mean = int(round(sum(counts) / float(len(counts))))
            print("| %s | %s | %s; %s - %s | %s | %s + %s | %s | %s | %s | %s | %s | %s |" % (
                core_name, case, "{:,}".format(mean), "{:,}".format(min(counts)),
                "{:,}".format(max(counts)), kb(r["flash"]), kb(r["text"]), kb(r["const"]),
                kb(r["runtime"]), kb(r["libc"]), kb(r["ram"] + int(result["stack_peak"])),
                kb(r["bss"]), kb(r["data"]), kb(int(result["train_stack"]))))


def main(build, models):
    print("| core | model | instructions per inference (set 0 / set 1) | flash | of which model "
          "(code + weights) | of which runtime | of which C library | RAM | of which arena "
          "| stack in run() |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for core, core_name in CORES:
        for model in models:
            base = "%s/%s/test_%s" % (build, core, model)
            r = breakdown(base, "/%s.o" % model)
            result = result_line(base + ".log")
            instructions = " / ".join("{:,}".format(int(n)) for n in result["instructions"].split(","))
            print("| %s | %s | %s | %s | %s + %s | %s | %s | %s | %s | %s |" % (
                core_name, model, instructions, kb(r["flash"]), kb(r["text"]), kb(r["const"]),
                kb(r["runtime"]), kb(r["libc"]), kb(r["ram"] + int(result["stack_peak"])),
                kb(r["bss"] + r["data"]), kb(int(result["run_stack"]))))


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--train":
        main_train(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 3 and not sys.argv[1].startswith("-"):
        main(sys.argv[1], sys.argv[2:])
    else:
        sys.exit("usage: report.py BUILD_MCU_DIR MODEL...\n       report.py --train BUILD_MCU_DIR CASE...")
