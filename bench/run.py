#!/usr/bin/python3
"""`make bench`: onnxcc's generated C against ONNX Runtime and PyTorch, one run.

    /usr/bin/python3 bench/run.py build/bench [--quick] [--models=a,b]

Expects what `make bench` prepares first: build/onnxcc and build/libonnxcc.a,
the models bench/export_models.py writes into build/bench, and onnxruntime-node
in build/bench/node. Measures, on one core:

  inference   the generated C built with gcc -O3 -march=native and with gcc -O2
              (gcc's default target, generic x86-64), each linked against its own
              build of runtime/kernels/*.c with the same flags (build/bench/rt-*),
              timed by bench/harness.c; ONNX Runtime through bench/ort_bench.js
              (onnxruntime-node, 1 thread, all graph optimisations);
  training    the C train step (--train --batch 32 --optimizer sgd) against
              PyTorch (bench/torch_train.py), when libonnxcc has the training kernels;
  compiling   onnxcc compile and gcc -O2 -c of resnet18, each timed alone;
  memory      every process's peak RSS (VmHWM; GNU time for the compilers), the
              planned arena and its lower bound;
  kernels     a per-layer profile of inference and of the train step
              (bench/harness.c -DBENCH_PROFILE) and the core's peak float32 rate
              (bench/peak.c).
Before timing, the C builds and ONNX Runtime compute the same input's output, and
the table gives their largest difference.

Every contender is a long-lived process that answers "run N iterations" on its
stdin, so the contenders of one model are alternated round by round (the order
rotates each round) and all see the same machine state; the table reports the
median over rounds of each one's time per iteration, and the median over rounds
of the per-round ratio. Prints the report (markdown tables: results, kernels,
targets) and writes it to build/bench/results.md.
--quick: fewer rounds (a smoke test of the script, not for reporting);
--models=mlp,add: only those models (and no compile-speed row without resnet18).
"""
import concurrent.futures
import glob
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from export_models import INPUT_SHAPES  # noqa: E402

ONNXCC = os.path.join(ROOT, "build", "onnxcc")
LIBONNXCC = os.path.join(ROOT, "build", "libonnxcc.a")
CC = os.environ.get("CC", "gcc")
TRAIN_BATCH = 32
ROUNDS_SMALL, ROUNDS_BIG = 31, 11  # rounds per model: about 20 s (small) and 30 s (big) each
# The two builds of the generated C and the runtime. -std=c99 as the README's build line.
FLAGS = {"O3n": ["-O3", "-march=native"], "O2": ["-O2"]}
FLAG_TEXT = {"O3n": "gcc -O3 -march=native", "O2": "gcc -O2 (generic x86-64)"}
# Both builds run on x86-64: inference code is compiled for it (packed conv weights).
TARGET = ["--target", "x86-64"]
SMALL = ["mlp", "lenet5", "activations"]
BIG = ["mobilenet_v2", "resnet18"]
TITLE = {"mlp": "MLP 784-64-32-10", "lenet5": "LeNet-5", "activations": "activations CNN",
         "mobilenet_v2": "mobilenet_v2", "resnet18": "resnet18", "add": "Add (1x4), per-call floor"}


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def run_timed(argv, **kw):
    """Runs argv to completion under /usr/bin/time; returns (wall seconds, peak RSS in bytes).

    The peak is GNU time's %M: wait4()'s ru_maxrss of the command, which covers its
    waited-for children too (gcc's cc1 and as). It is not measured from this script
    with wait4() directly: a child's ru_maxrss starts from its parent's memory at
    fork, and this script is the larger of the two.
    """
    fd, rss_file = tempfile.mkstemp(prefix="onnxcc-bench-rss.")
    os.close(fd)
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file, *argv], **kw)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError("failed (%d): %s" % (r.returncode, " ".join(argv)))
    with open(rss_file) as f:
        kb = int(f.read().split()[-1])
    os.remove(rss_file)
    return wall, kb * 1024


def sh(argv, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("failed: %s\n%s" % (" ".join(argv), r.stdout))
    return r.stdout


# ---------------------------------------------------------------------- contenders
class Contender:
    """A process speaking bench/harness.c's protocol: "N" -> ns per iteration."""

    def __init__(self, label, argv, env=None, profile=False):
        self.label, self.profile = label, profile
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1, env=env)
        self.n = 1
        self.times = []
        self.nodes = []  # profile: one {node: ns} per round

    def ping(self):
        """Waits until the process has set up (answered "p")."""
        self.p.stdin.write("p\n")
        self.p.stdin.flush()
        if self.p.stdout.readline() != "ok\n":
            raise RuntimeError("%s did not start" % self.label)

    def output(self):
        """The model's output on the fixed input (inference contenders)."""
        self.p.stdin.write("o\n")
        self.p.stdin.flush()
        return [float(x) for x in self.p.stdout.readline().split()]

    def run(self, n):
        self.p.stdin.write("%d\n" % n)
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("%s stopped (exit %s)" % (self.label, self.p.wait()))
        t = float(line)
        if self.profile:
            nodes = {}
            for row in iter(self.p.stdout.readline, "end\n"):
                k, ns = row.split()
                nodes[int(k)] = float(ns)
            self.nodes.append(nodes)
        return t

    def close(self):
        """Ends the process; returns its peak RSS in bytes.

        That is VmHWM of /proc/PID/status, read while the process waits for its next
        command: the high-water mark of its own address space since exec (wait4()'s
        ru_maxrss would include this script's memory, inherited at fork).
        """
        with open("/proc/%d/status" % self.p.pid) as f:
            hwm = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))
        self.p.stdin.write("q\n")
        self.p.stdin.close()
        self.p.wait()
        return hwm * 1024

    def kill(self):
        self.p.kill()
        self.p.wait()

    def median(self):
        return statistics.median(self.times)


def calibrate(c, round_s):
    """Warms c up and sets c.n, the iterations that take about round_s."""
    c.run(1)
    k = 1
    while True:
        t = c.run(k)
        if t * k >= 0.05e9 or k >= 1 << 20:
            break
        k *= 4
    c.n = max(1, int(round_s * 1e9 / t))


def interleave(contenders, rounds, round_s):
    for c in contenders:
        calibrate(c, round_s)
    for r in range(rounds):
        k = r % len(contenders)
        for c in contenders[k:] + contenders[:k]:
            c.times.append(c.run(c.n))


def profile(exe, src, func, round_s, rounds):
    """{region: ((name, label, macs, fields), median ns)} from a -DBENCH_PROFILE harness."""
    prof = Contender("C profile", [exe], profile=True)
    calibrate(prof, round_s)
    prof.nodes = []
    for _ in range(rounds):
        prof.run(prof.n)
    prof.close()
    lay = layers(src, func)
    return {k: (lay[k], statistics.median(rn.get(k, 0.0) for rn in prof.nodes)) for k in lay}


def ratio(a, b):
    """Median over rounds of a's time over b's, the rounds measured side by side."""
    return statistics.median(x / y for x, y in zip(a.times, b.times))


# -------------------------------------------------------------------------- builds
def build_runtime(out, key):
    """runtime/kernels/*.c built with FLAGS[key] into out/rt-KEY/librt.a."""
    d = os.path.join(out, "rt-" + key)
    os.makedirs(d, exist_ok=True)
    objs = []
    for src in sorted(glob.glob(os.path.join(ROOT, "runtime", "kernels", "*.c")) +
                      glob.glob(os.path.join(ROOT, "runtime", "*.c"))):
        obj = os.path.join(d, os.path.basename(src)[:-2] + ".o")
        sh([CC, "-std=c99", *FLAGS[key], "-I" + os.path.join(ROOT, "runtime"), "-c", src, "-o", obj])
        objs.append(obj)
    lib = os.path.join(d, "librt.a")
    if os.path.exists(lib):
        os.remove(lib)
    sh(["ar", "rcs", lib, *objs])
    return lib


def build_harness(d, key, gen_obj, lib, defines=()):
    """Links bench/harness.c (built against d/net.h) with a generated object."""
    exe = os.path.join(d, "harness-%s%s" % (key, "".join(x.lower().replace("-dbench_", "-")
                                                         for x in defines)))
    sh([CC, "-std=c99", *FLAGS[key], *defines, "-I" + d, "-I" + os.path.join(ROOT, "runtime"),
        os.path.join(HERE, "harness.c"), gen_obj, lib, "-lm", "-o", exe])
    return exe


def compile_c(src, obj, key):
    return run_timed([CC, "-std=c99", *FLAGS[key], "-I" + os.path.dirname(src),
                       "-I" + os.path.join(ROOT, "runtime"), "-c", src, "-o", obj])


# The generated functions bench/harness.c times, and how each ends.
FUNCS = {"run": ("net_run", "\n  return 0;\n}\n"),
         "train": ("net_train_step", "\n  return NET_TRAIN_OK;\n}\n")}
# A region of a generated function: from one whole-line comment at the top level
# ("/* node 3 'conv2' (Conv) */", "/* loss: ... */", "/* backward of node 3 ... */",
# "/* update: ... */") to the next.
REGION_RE = re.compile(r"^  /\* (.*) \*/$", re.M)


def body_span(text, func):
    name, ret = FUNCS[func]
    start = text.index("\nint %s(" % name)
    return start, text.index(ret, start)


def instrument(src, dst, func):
    """Copies a generated file with bench_mark(K) before region K of func and
    bench_mark(-1) before its final return."""
    text = open(src).read()
    start, end = body_span(text, func)
    count = iter(range(1 << 30))
    body = REGION_RE.sub(lambda m: "  bench_mark(%d);\n%s" % (next(count), m.group(0)), text[start:end])
    text = (text[:start].replace('#include "net.h"\n', '#include "net.h"\nvoid bench_mark(int node);\n', 1)
            + body + "\n  bench_mark(-1);" + text[end:])
    with open(dst, "w") as f:
        f.write(text)


def classify(kernel, f):
    """A readable kernel label; convolutions by the path runtime/kernels/conv.c takes."""
    if kernel is None:
        return "(no call)"
    label = kernel[3:].replace("_forward", "").replace("_", " ")
    if kernel == "nn_gemm_packed_forward":  # gemm.c: B packed in panels at compile time
        return "gemm (B in panels)"
    if kernel == "nn_conv_packed_forward":  # conv_packed.c: weights packed at compile time
        return "conv %dx%d (packed, channels across lanes)" % (f["kh"], f["kw"])
    if kernel.startswith("nn_conv_"):
        reach_h = f["oh"] + (f["kh"] - 1) * f["dil_h"]  # input rows and columns the windows span
        reach_w = f["ow"] + (f["kw"] - 1) * f["dil_w"]
        if f["c"] == f["group"] > 1:
            kind = "depthwise %dx%d" % (f["kh"], f["kw"])
        elif f["kh"] == f["kw"] == 1 and f["stride_h"] == f["stride_w"] == 1 and \
                f["pad_t"] == f["pad_l"] == 0:
            kind = "1x1 (gemm)"
        elif kernel.endswith("_backward"):  # the two paths below are forward only
            kind = "%dx%d (im2col gemm)" % (f["kh"], f["kw"])
        elif f["m"] // f["group"] <= 8 and f["stride_h"] == f["stride_w"] == 1 and \
                f["c"] // f["group"] * f["kh"] * f["kw"] <= 1024 and \
                4 * f["ow"] >= 3 * 16 * -(-f["ow"] // 16) and (
                    (f["pad_t"] == f["pad_l"] == 0 and reach_h <= f["h"] and reach_w <= f["w"]) or
                    f["c"] // f["group"] * reach_h * 16 * -(-reach_w // 16) <= 8192):
            kind = "%dx%d (pixels across lanes)" % (f["kh"], f["kw"])  # conv_pixels.c, AVX-512
        elif f["group"] == 1 and 8 < f["m"] <= 16 and f["stride_h"] == f["stride_w"] == 1 and \
                f["c"] * f["kh"] * f["kw"] <= 256 and (f["pad_t"] == f["pad_l"] == 0 or f["c"] * (
                    f["h"] + 2 * f["pad_t"]) * (f["w"] + 2 * f["pad_l"]) <= 8192):
            kind = "%dx%d (channels across lanes)" % (f["kh"], f["kw"])  # conv_lanes.c, AVX-512
        elif f["c"] // f["group"] <= 4 and f["stride_w"] in (1, 2) and f["ow"] >= 64 and \
                f["kh"] * f["kw"] <= 256 and (f["stride_h"] != 1 or f["stride_w"] != 1 or (
                    f["pad_t"] + f["pad_l"] > 0 and f["c"] // f["group"] * (f["h"] + 2 * f["pad_t"])
                    * (f["w"] + 2 * f["pad_l"]) > 8192)) and \
                f["c"] // f["group"] * ((f["kh"] - 1) * f["dil_h"] + 1) * f["stride_w"] * (
                    f["ow"] + f["kw"] * f["dil_w"]) <= 8192:
            kind = "%dx%d (row bands)" % (f["kh"], f["kw"])  # conv_rows.c (strided first layers)
        else:
            kind = "%dx%d (im2col gemm)" % (f["kh"], f["kw"])
        label = label.replace("conv", "conv " + kind)
    return label


def layers(src, func="run"):
    """{region index: (name, label, macs, fields)} of a generated function.

    name is the ONNX node's (or the region's comment); label names the main
    kernel call (convolutions by kind, "... backward" in a train step); macs
    counts forward Conv and Gemm only; fields are the `.name = integer` members
    of the call's parameter struct (shapes).
    """
    text = open(src).read()
    start, end = body_span(text, func)
    text = text[start:end]
    marks = list(REGION_RE.finditer(text))
    out = {}
    for i, m in enumerate(marks):
        block = text[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)]
        calls = [c for c in re.findall(r"\b(nn_\w+)\(", block) if c != "nn_fill"]
        kernel = calls[0] if calls else None
        f = {k: int(v) for k, v in re.findall(r"\.(\w+) = (-?\d+)\b", block)}
        macs = 0
        if kernel in ("nn_conv_forward", "nn_conv_packed_forward"):
            macs = f["n"] * f["m"] * f["oh"] * f["ow"] * (f["c"] // f["group"]) * f["kh"] * f["kw"]
        elif kernel in ("nn_gemm_forward", "nn_gemm_packed_forward"):
            macs = f["m"] * f["n"] * f["k"]
        label = classify(kernel, f)
        act = re.search(r"\.act = NN_ACT_(\w+)", block)
        if act and act.group(1) not in ("NONE", "RELU", "LEAKY_RELU", "CLIP"):
            # a fused activation that is a pass of its own over y (exp and the like): named,
            # as its time counts in the layer's
            label += " + fused %s" % act.group(1).replace("_", " ").title()
        if m.group(1).startswith("update"):
            label = "update (finite check, SGD)"
        elif m.group(1).startswith("loss"):
            label = "loss"
        name = re.match(r"(?:backward of )?node \d+ '(.*?)'", m.group(1))
        out[i] = (name.group(1) if name else m.group(1), label, macs, f)
    return out


# ------------------------------------------------------------------------- helpers
def fmt_time(ns):
    if ns is None:
        return "n/a"
    if ns < 1e4:
        return "%.2f µs" % (ns / 1e3)
    if ns < 1e6:
        return "%.1f µs" % (ns / 1e3)
    return "%.2f ms" % (ns / 1e6)


def fmt_macs(n):
    return "%.1fM" % (n / 1e6) if n >= 1e5 else "%.1fk" % (n / 1e3)


def fmt_ratio(x):
    return "%.2f" % x if x >= 0.1 else "%.4f" % x


def fmt_bytes(b):
    return "%.0f KB" % (b / 1e3) if b < 1e6 else "%.1f MB" % (b / 1e6)


def fmt_mb(b):
    return "n/a" if b is None else "%.1f MB" % (b / 1e6)


def info_memory(model):
    out = sh([ONNXCC, "info", model] + TARGET)
    arena = int(re.search(r"arena:\s+(\d+) bytes planned", out).group(1))
    bound = int(re.search(r"lower bound:\s+(\d+) bytes", out).group(1))
    return arena, bound


def machine():
    lscpu = sh(["lscpu"])
    model = re.search(r"Model name:\s+(.*)", lscpu).group(1).strip()
    flags = re.search(r"Flags:\s+(.*)", lscpu).group(1).split()
    keep = [f for f in ("avx2", "fma", "avx512f", "avx512vl", "avx512bw", "avx512_bf16") if f in flags]
    return "%s, %d cores, %s" % (model, os.cpu_count(), " ".join(keep))


# ---------------------------------------------------------------------------- main
def main(out, quick=False, only=None):
    t_start = time.perf_counter()
    out = os.path.abspath(out)
    node_env = dict(os.environ, NODE_PATH=os.path.join(out, "node", "node_modules"))
    rounds_small, rounds_big, round_small, round_big = \
        (3, 2, 0.05, 0.1) if quick else (ROUNDS_SMALL, ROUNDS_BIG, 0.15, 0.4)
    have_train = "nn_gemm_backward" in sh(["nm", LIBONNXCC])

    # 1. Compile speed first, alone on the machine: onnxcc, then gcc -O2 of its output.
    compile_onnxcc = compile_gcc = None
    c_bytes = 0
    if not only or "resnet18" in only:
        log("compile speed: resnet18")
        d = os.path.join(out, "resnet18")
        os.makedirs(d, exist_ok=True)
        compile_onnxcc = run_timed([ONNXCC, "compile", os.path.join(out, "resnet18.onnx"), "--name",
                                     "net", "-o", os.path.join(d, "net.c")] + TARGET)
        compile_gcc = compile_c(os.path.join(d, "net.c"), os.path.join(d, "net-O2.o"), "O2")
        c_bytes = os.path.getsize(os.path.join(d, "net.c"))

    # 2. Builds, two at a time: runtimes, generated files, harnesses.
    log("building")
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
    libs = {k: pool.submit(build_runtime, out, k) for k in FLAGS}
    libs = {k: f.result() for k, f in libs.items()}
    models = [m for m in SMALL + BIG + ["add"] if not only or m in only]
    jobs = {}
    for m in models:
        d = os.path.join(out, m)
        os.makedirs(d, exist_ok=True)
        if m != "resnet18":
            sh([ONNXCC, "compile", os.path.join(out, m + ".onnx"), "--name", "net",
                "-o", os.path.join(d, "net.c")] + TARGET)
        instrument(os.path.join(d, "net.c"), os.path.join(d, "net_prof.c"), "run")
        for key in FLAGS:
            if not (m == "resnet18" and key == "O2"):
                jobs[(m, key)] = pool.submit(compile_c, os.path.join(d, "net.c"),
                                             os.path.join(d, "net-%s.o" % key), key)
        jobs[(m, "prof")] = pool.submit(compile_c, os.path.join(d, "net_prof.c"),
                                        os.path.join(d, "net-prof.o"), "O3n")
    # The training steps are always generated (that shows what trains); they are built
    # only when libonnxcc has the training kernels.
    train_jobs, train_mode = {}, {}
    for m in [m for m in SMALL if m in models]:
        d = os.path.join(out, m + "_train")
        os.makedirs(d, exist_ok=True)
        argv = [ONNXCC, "compile", os.path.join(out, m + "_train.onnx"), "--name", "net", "--train",
                "--batch", str(TRAIN_BATCH), "--optimizer", "sgd", "-o", os.path.join(d, "net.c")]
        train_mode[m] = "all"
        try:
            sh(argv)
        except RuntimeError as e:
            # A layer without a backward pass: train the last layer only, as the hint says.
            if "--trainable last:1" not in str(e):
                raise
            sh(argv + ["--trainable", "last:1"])
            train_mode[m] = "last:1"
        if have_train:
            instrument(os.path.join(d, "net.c"), os.path.join(d, "net_prof.c"), "train")
            train_jobs[m] = [pool.submit(compile_c, os.path.join(d, "net.c"),
                                         os.path.join(d, "net-O3n.o"), "O3n"),
                             pool.submit(compile_c, os.path.join(d, "net_prof.c"),
                                         os.path.join(d, "net-prof.o"), "O3n")]
    peak_exe = os.path.join(out, "peak")
    sh([CC, "-std=c99", "-O2", "-march=native", os.path.join(HERE, "peak.c"), "-o", peak_exe])
    exes = {}
    for m in models:
        d = os.path.join(out, m)
        jobs[(m, "O3n")].result()
        jobs[(m, "prof")].result()
        if m != "resnet18":
            jobs[(m, "O2")].result()
        exes[m] = {k: build_harness(d, k, os.path.join(d, "net-%s.o" % k), libs[k]) for k in FLAGS}
        exes[m]["prof"] = build_harness(d, "O3n", os.path.join(d, "net-prof.o"), libs["O3n"],
                                        ["-DBENCH_PROFILE"])
    train_exes, train_fail = {}, {}
    for m, fs in train_jobs.items():
        d = os.path.join(out, m + "_train")
        try:
            for f in fs:
                f.result()
            train_exes[m] = {
                "O3n": build_harness(d, "O3n", os.path.join(d, "net-O3n.o"), libs["O3n"], ["-DBENCH_TRAIN"]),
                "prof": build_harness(d, "O3n", os.path.join(d, "net-prof.o"), libs["O3n"],
                                      ["-DBENCH_TRAIN", "-DBENCH_PROFILE"])}
        except RuntimeError as e:
            first = [x for x in str(e).splitlines() if "error" in x][:1]
            train_fail[m] = "n/a (train step did not build: %s)" % (
                first[0].split("error: ")[-1].strip() if first else "see build log")
            log("training %s: %s" % (m, train_fail[m]))
    pool.shutdown()
    t_built = time.perf_counter()

    # 3. The core's clock and FMA rate, now and again at the end; the higher counts
    # (the boost clock drops while the other core is busy).
    # At the end also the read bandwidth of each batch-1 Gemm's weight bytes, warm.
    def measure_peak(read_sizes=()):
        o = sh([peak_exe] + [str(b) for b in read_sizes])
        return (float(re.search(r"clock_ghz (\S+)", o).group(1)),
                float(re.search(r"fma_gflops (\S+)", o).group(1)),
                int(re.search(r"fma_gflops \S+ (\d+)", o).group(1)),
                {int(b): float(g) for b, g in re.findall(r"read_gbs (\d+) (\S+)", o)})
    peak_samples = [measure_peak()]

    # 4. ONNX Runtime's memory baseline: node with the binding loaded, no session.
    ort_js = os.path.join(HERE, "ort_bench.js")
    base = []
    for _ in range(3):
        c = Contender("ort-baseline", ["node", ort_js, "-"], env=node_env)
        c.ping()
        base.append(c.close())
    ort_base = statistics.median(base)

    # 5. Inference, interleaved per model.
    rows = {}
    for m in models:
        log("inference: " + m)
        big = m in BIG
        shape = ",".join(str(x) for x in INPUT_SHAPES[m])
        cs = [Contender("C " + k, [exes[m][k]]) for k in FLAGS]
        cs.append(Contender("ORT", ["node", ort_js, os.path.join(out, m + ".onnx"), shape], env=node_env))
        # ORT on the Add model in the same rounds: the binding's per-call floor, side by side.
        cs.append(Contender("ORT floor", ["node", ort_js, os.path.join(out, "add.onnx"),
                                          ",".join(str(x) for x in INPUT_SHAPES["add"])], env=node_env))
        c3, c2, ort, floor = cs
        # The same input everywhere: check that all compute the same output first.
        want = ort.output()
        diff = max(max(abs(a - b) for a, b in zip(c.output(), want)) for c in (c3, c2))
        scale = max(abs(x) for x in want) or 1.0
        interleave(cs, rounds_big if big else rounds_small, round_big if big else round_small)
        r = {"O3n": c3.median(), "O2": c2.median(), "ort": ort.median(), "floor": floor.median(),
             "diff": diff / scale,
             "ratio_O3n": ratio(c3, ort), "ratio_O2": ratio(c2, ort),
             "ratio_net": statistics.median(c / (o - f) if o > f else float("inf") for c, o, f in
                                            zip(c3.times, ort.times, floor.times))}
        r["rss_O3n"] = c3.close()
        r["rss_O2"] = c2.close()
        r["rss_ort"] = ort.close() - ort_base
        floor.close()
        # The per-layer profile runs alone, after the timing.
        r["layers"] = profile(exes[m]["prof"], os.path.join(out, m, "net.c"), "run",
                              round_big if big else round_small, 5 if big else 7)
        if m != "add":
            r["arena"], r["bound"] = info_memory(os.path.join(out, m + ".onnx"))
        rows[m] = r

    # 6. Training steps, interleaved per model.
    train = {}
    for m in [m for m in SMALL if m in models]:
        log("training: " + m)
        mode = train_mode.get(m, "all")
        torch_argv = [sys.executable, os.path.join(HERE, "torch_train.py"), m, str(TRAIN_BATCH), mode]
        cs = [Contender("PyTorch train", torch_argv)]
        if m in train_exes:
            cs.insert(0, Contender("C train", [train_exes[m]["O3n"]]))
        try:
            interleave(cs, rounds_small, round_small)
        except RuntimeError as e:  # e.g. a non-finite step: measure PyTorch alone
            log("training %s: %s" % (m, e))
            train_fail[m] = "n/a (train step failed: %s)" % e
            for c in cs:
                c.kill()
            cs = [Contender("PyTorch train", torch_argv)]
            interleave(cs, rounds_small, round_small)
        t = {"mode": mode, "torch": cs[-1].median(), "fail": train_fail.get(m)}
        if len(cs) == 2:
            t["c"], t["ratio"] = cs[0].median(), ratio(cs[0], cs[-1])
            t["rss_c"] = cs[0].close()
        t["rss_torch"] = cs[-1].close()
        if "c" in t:
            t["layers"] = profile(train_exes[m]["prof"], os.path.join(out, m + "_train", "net.c"),
                                  "train", round_small, 7)
        train[m] = t

    gemv_bytes = sorted({b for r in rows.values() if "layers" in r
                         for b in [gemv_weight_bytes(r["layers"])] if b})
    peak_samples.append(measure_peak(gemv_bytes))
    ghz = max(p[0] for p in peak_samples)
    fma_gflops = max(p[1] for p in peak_samples)
    width = peak_samples[0][2]
    # W floats x 2 FMA units x 2 flops x clock, or what the FMA loop reached if more.
    peak_gflops = max(width * 2 * 2 * ghz, fma_gflops)
    t_end = time.perf_counter()
    report = render(rows, train, have_train, compile_onnxcc, compile_gcc, c_bytes,
                    dict(ghz=ghz, fma=fma_gflops, width=width, peak=peak_gflops,
                         read=peak_samples[-1][3]),
                    ort_base, dict(build=t_built - t_start, measure=t_end - t_built, out=out),
                    quick)
    print(report)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(report)
    log("wrote %s (%.0f s)" % (os.path.join(out, "results.md"), time.perf_counter() - t_start))


def render(rows, train, have_train, compile_onnxcc, compile_gcc, c_bytes, peak, ort_base, times,
           quick):
    """The markdown report: the main table, the kernels table, the targets, the method."""
    L = []
    L.append("Machine: %s. Date: %s. Command: `make bench`%s." % (
        machine(), time.strftime("%Y-%m-%d"), " (--quick: too few rounds to report)" if quick else ""))
    L.append("")
    L.append("| model | MACs | C %s | C %s | ONNX Runtime | C/ORT (-O3 native) | C/ORT (-O2) "
             "| C/(ORT - floor) | C peak RSS | ORT peak RSS over baseline | arena planned / lower bound "
             "| max output difference C vs ORT |" % (FLAG_TEXT["O3n"], FLAG_TEXT["O2"]))
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m, r in rows.items():
        macs = sum(v[0][2] for v in r["layers"].values())
        arena = ("%d / %d B (%.3f)" % (r["arena"], r["bound"], r["arena"] / r["bound"])
                 if "arena" in r and r["bound"] else "n/a")
        net = fmt_ratio(r["ratio_net"]) if m != "add" and r["ratio_net"] != float("inf") else "n/a"
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1e |" % (
            TITLE[m], fmt_macs(macs) if macs else "0", fmt_time(r["O3n"]), fmt_time(r["O2"]),
            fmt_time(r["ort"]), fmt_ratio(r["ratio_O3n"]), fmt_ratio(r["ratio_O2"]), net,
            fmt_mb(r["rss_O3n"]), fmt_mb(r["rss_ort"]), arena, r["diff"]))
    for m, t in train.items():
        what = "train step, batch %d, SGD%s" % (TRAIN_BATCH, ", last layer only" if t["mode"] == "last:1" else "")
        if "c" in t:
            L.append("| %s %s | | %s | | PyTorch %s | %s (C/PyTorch) | | | %s | PyTorch process %s | | |" % (
                TITLE[m], what, fmt_time(t["c"]), fmt_time(t["torch"]), fmt_ratio(t["ratio"]),
                fmt_mb(t["rss_c"]), fmt_mb(t["rss_torch"])))
        else:
            why = t["fail"] or "n/a (training kernels not built)"
            L.append("| %s %s | | %s | | PyTorch %s | %s | | | n/a | PyTorch process %s | | |" % (
                TITLE[m], what, why, fmt_time(t["torch"]), why, fmt_mb(t["rss_torch"])))
    if compile_onnxcc:
        (cw, cm), (gw, gm) = compile_onnxcc, compile_gcc
        L.append("| resnet18 compile: `onnxcc compile`, then `gcc -O2 -c` of its %.0f MB output | | %.1f s, "
                 "%s | %.1f s, %s | | | | | total %.1f s | peak %s | | |" % (
                     c_bytes / 1e6, cw, fmt_mb(cm), gw, fmt_mb(gm), cw + gw, fmt_mb(max(cm, gm))))
    L.append("")

    # Kernel efficiency: the largest Conv and Gemm layers of each model, and what dominates.
    L.append("Peak of one core: %d floats x 2 FMA units x 2 flops x %.2f GHz = %.0f GFLOP/s "
             "(clock timed on dependent integer adds, the higher of two samples); an FMA loop "
             "reaches %.0f GFLOP/s; the percentages below use the higher, %.0f GFLOP/s."
             % (peak["width"], peak["ghz"], peak["width"] * 4 * peak["ghz"], peak["fma"], peak["peak"]))
    L.append("")
    L.append("| model | largest Conv: time, GFLOP/s, % of peak | largest Gemm: time, GFLOP/s, % of peak "
             "| kernels by share of time (-O3 native, per-layer profile) |")
    L.append("|---|---|---|---|")
    eff, bounds = {}, {}
    for m, r in rows.items():
        if m == "add":
            continue
        cells = largest_layers(r["layers"], peak, eff, m, bounds)
        L.append("| %s | %s | %s |" % (TITLE[m], " | ".join(cells), top_kernels(r["layers"], 4)))
    for m, t in train.items():
        if "layers" in t:  # forward layers at the training batch; not counted in the target
            cells = largest_layers(t["layers"], peak, {}, m)
            L.append("| %s train step (batch %d) | %s | %s |" % (
                TITLE[m], TRAIN_BATCH, " | ".join(cells), top_kernels(t["layers"], 5)))
    L.append("")

    # The targets of the issue, each met or not, with the numbers.
    L.append("| target | measured (C -O3 -march=native unless said) | met |")
    L.append("|---|---|---|")

    def target(text, values, ok):
        L.append("| %s | %s | %s |" % (text, values, "yes" if ok else "**no**"))

    for group, limit in ((SMALL, 0.5), (BIG, 1.0)):
        have = [m for m in group if m in rows]
        if have:
            target("C <= %.1fx ORT latency: %s" % (limit, ", ".join(TITLE[m] for m in have)),
                   ", ".join("%s %s (-O2 %s)" % (TITLE[m], fmt_ratio(rows[m]["ratio_O3n"]),
                                                 fmt_ratio(rows[m]["ratio_O2"])) for m in have),
                   all(rows[m]["ratio_O3n"] <= limit for m in have))
    if eff:
        target("largest Conv and Gemm layers >= 50%% of one core's peak (%.0f GFLOP/s)" % peak["peak"],
               ", ".join("%s %s %.0f%%%s" % (TITLE[m], k, v, " (a read of its weights bounds it "
                                                         "at %.0f%%)" % bounds[m]
                                                 if k == "gemm" and m in bounds else "")
                         for (m, k), v in eff.items()),
               all(v >= 50 for v in eff.values()))
    if train:
        done = [m for m in train if "c" in train[m]]
        target("train step <= 0.5x PyTorch", ", ".join(
            "%s %s" % (TITLE[m], fmt_ratio(train[m]["ratio"]) if m in done else "n/a") for m in train),
            len(done) == len(train) and all(train[m]["ratio"] <= 0.5 for m in done))
    if compile_onnxcc:
        (cw, cm), (gw, gm) = compile_onnxcc, compile_gcc
        target("resnet18 compile (onnxcc + gcc -O2) < 60 s and < 4 GB",
               "%.1f s + %.1f s = %.1f s; peak %s (gcc), %s (onnxcc)" % (
                   cw, gw, cw + gw, fmt_mb(gm), fmt_mb(cm)), cw + gw < 60 and max(cm, gm) < 4e9)
    have = [m for m in rows if "arena" in rows[m] and rows[m]["bound"]]
    if have:
        target("arena within 5% of its lower bound", ", ".join(
            "%s %+.1f%%" % (TITLE[m], 100 * (rows[m]["arena"] / rows[m]["bound"] - 1)) for m in have),
            all(rows[m]["arena"] <= 1.05 * rows[m]["bound"] for m in have))
    L.append("")
    L.append("Method: each model's contenders are long-lived processes alternated round by round "
             "(%s); times are medians over rounds, ratios the median of per-round ratios. "
             "ONNX Runtime: onnxruntime-node %s, intraOpNumThreads 1, interOpNumThreads 1, "
             "graphOptimizationLevel 'all', each run() awaited; the Add row is the binding's "
             "per-call floor, and C/(ORT - floor) compares with ORT's time less that floor, timed again "
             "in the same rounds as each model (median of per-round ratios). "
             "PyTorch: %s, one thread. "
             "Peak RSS is each process's VmHWM (/proc/PID/status) after its last round "
             "(GNU time's %%M for the compilers); ORT's is the node process's minus that of a "
             "node process that only loads onnxruntime-node (%s), the median of 3. The output "
             "difference is the largest |C - ORT| over the output (both C builds), relative to the "
             "largest |ORT output|, on the same pseudo-random input. "
             "Build %.0f s, measurement %.0f s."
             % ("%d rounds small models, %d big" % ((3, 2) if quick else (ROUNDS_SMALL, ROUNDS_BIG)),
                ort_version(times["out"]), torch_version(), fmt_mb(ort_base), times["build"],
                times["measure"]))
    if not have_train:
        L.append("")
        L.append("Training rows: build/libonnxcc.a has no nn_gemm_backward yet, so the C train step "
                 "is not built; PyTorch's time is given for reference.")
    return "\n".join(L) + "\n"


def largest_layer(lay, kind):
    """The key of a profile's forward layer of kind "conv" or "gemm" with the most
    MACs, or None."""
    cand = [(v[0][2], k) for k, v in lay.items() if v[0][1].startswith(kind) and v[0][2]]
    return max(cand)[1] if cand else None


def gemv_weight_bytes(lay):
    """Bytes of B of a profile's largest Gemm when it has one row (a matrix-vector
    product, bound by reading them), else None."""
    k = largest_layer(lay, "gemm")
    f = lay[k][0][3] if k is not None else {}
    return 4 * f["n"] * f["k"] if f.get("m") == 1 else None


def largest_layers(lay, peak, eff, model, bounds=None):
    """Cells for the largest forward Conv and Gemm of a profile: time, GFLOP/s, % of
    peak (also stored in eff[(model, kind)]). A Gemm of one row also gets the rate at
    which it read its weights, and the bound that a bare read of as many warm bytes
    sets (2 flops per 4 bytes), from peak["read"] (% of peak in bounds[model])."""
    cells = []
    for kind in ("conv", "gemm"):
        k = largest_layer(lay, kind)
        if k is None:
            cells.append("none")
            continue
        (name, label, macs, f), ns = lay[k]
        gf = 2 * macs / ns if ns else 0
        eff[(model, kind)] = 100 * gf / peak["peak"]
        gemv = ""
        size = gemv_weight_bytes(lay) if kind == "gemm" else None
        if size and ns:
            gemv = "; m = 1, weights read at %.1f GB/s" % (size / ns)
            if size in peak.get("read", {}):
                bound = 100 * peak["read"][size] / 2 / peak["peak"]
                if bounds is not None:
                    bounds[model] = bound
                gemv += " (a bare read of %s, warm: %.0f GB/s, bounds it at %.0f%% of peak)" % (
                    fmt_bytes(size), peak["read"][size], bound)
        cells.append("`%s` (%s, %s MACs): %s, %.1f, %.0f%%%s" % (
            name, label, fmt_macs(macs), fmt_time(ns), gf, eff[(model, kind)], gemv))
    return cells


def top_kernels(lay, count):
    """The kernels taking most of a profile's time: "label share% (time)", largest first."""
    by = {}
    for (_, label, _, _), ns in lay.values():
        by[label] = by.get(label, 0.0) + ns
    total = sum(by.values()) or 1
    top = sorted(by.items(), key=lambda kv: -kv[1])[:count]
    return ", ".join("%s %.0f%% (%s)" % (lab, 100 * ns / total, fmt_time(ns)) for lab, ns in top)


def torch_version():
    """PyTorch's version and BLAS, as its build reports them (Debian's is BLAS_INFO=generic)."""
    try:
        outp = sh([sys.executable, "-c", "import torch; print(torch.__version__); "
                   "print(torch.__config__.show())"])
    except RuntimeError:
        return "PyTorch (version unknown)"
    blas = re.search(r"BLAS_INFO=(\w+)", outp)
    return "PyTorch %s (BLAS_INFO=%s)" % (outp.split()[0], blas.group(1) if blas else "?")


def ort_version(out):
    try:
        import json
        p = os.path.join(out, "node", "node_modules", "onnxruntime-node", "package.json")
        return json.load(open(p))["version"]
    except (OSError, ValueError, KeyError):
        return "?"


if __name__ == "__main__":
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__)
        sys.exit(0)
    unknown = [a for a in sys.argv[1:] if a.startswith("-") and a != "--quick" and
               not a.startswith("--models=")]
    if unknown:
        sys.exit("bench/run.py: unknown option %s (see --help)" % unknown[0])
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    only = [a.split("=", 1)[1].split(",") for a in sys.argv[1:] if a.startswith("--models=")]
    main(args[0] if args else os.path.join(ROOT, "build", "bench"), "--quick" in sys.argv,
         only[0] if only else None)
