#!/usr/bin/python3
"""Prints the Cortex-M footprint and instruction table (`make mcu-report`).

usage: report.py BUILD_MCU_DIR MODEL...

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


def main(build, models):
    print("| core | model | instructions per inference (set 0 / set 1) | flash | of which model "
          "(code + weights) | of which runtime | of which C library | RAM | of which arena "
          "| stack in run() |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for core, core_name in CORES:
        for model in models:
            base = "%s/%s/test_%s" % (build, core, model)
            sizes = section_sizes(base + ".elf")
            result = result_line(base + ".log")
            model_text = model_const = arena = runtime = libc = 0
            for output, path, size in input_sections(base + ".map"):
                if path.endswith("/%s.o" % model):
                    if output == ".text":
                        model_text += size
                    elif output in (".rodata", ".data"):
                        model_const += size
                    if output in (".bss", ".data"):
                        arena += size
                elif output not in (".text", ".rodata", ".data"):
                    continue
                elif "libonnxcc.a(" in path:
                    runtime += size
                elif re.search(r"/lib(c|m|gcc|semihost)\.a\(", path):
                    libc += size
            flash = sizes[".text"] + sizes[".rodata"] + sizes[".data"]
            ram = sizes[".data"] + sizes[".bss"] + int(result["stack_peak"])
            instructions = " / ".join("{:,}".format(int(n)) for n in result["instructions"].split(","))
            print("| %s | %s | %s | %s | %s + %s | %s | %s | %s | %s | %s |" % (
                core_name, model, instructions, kb(flash), kb(model_text), kb(model_const),
                kb(runtime), kb(libc), kb(ram), kb(arena), kb(int(result["run_stack"]))))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: report.py BUILD_MCU_DIR MODEL...")
    main(sys.argv[1], sys.argv[2:])
