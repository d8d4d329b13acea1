# onnxcc - one non-recursive Makefile; everything it makes goes to build/.
#
#   make            build/onnxcc and build/libonnxcc.a
#   make test       unit tests, model goldens, ONNX conformance
#   make simd-test  the kernel tests against each vector path this CPU runs (in `make test`)
#   make demo       compile a model from models/, run it, print predictions
#   make install PREFIX=/usr/local
#   make mcu-test   the runtime and models on Cortex-M4F and M3 under QEMU (in `make test`)
#   make mcu-report footprint, instructions per inference and per training step (README, "Cortex-M")
#   make fuzz       libFuzzer over the reader and front end (FUZZ_SECONDS)
#   make test-sanitize  compiler, runtime and tests (every vector path) under ASan + UBSan
#   make bench      speed and memory against ONNX Runtime and PyTorch (not in `make test`)
#
# `deps` installs the Debian packages the build and tests need (as root, or
# through sudo) and is a prerequisite of `test` and `demo`.

PREFIX  ?= /usr/local
CC      ?= cc
PYTHON  := /usr/bin/python3
B       := build

# Warnings: the runtime and compiler are held to what we promise for generated code.
WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wwrite-strings -Wundef
CFLAGS  ?= -g -O2
ALL_CFLAGS = -std=c99 $(CFLAGS) $(WARN) -MMD -MP
# The protoc-c output is generated code: included as a system header, no warnings.
PROTO_INC := -isystem $(B)/proto -Iproto -Iruntime

DEB_PACKAGES := build-essential pkg-config protobuf-c-compiler libprotobuf-c-dev \
                libonnx-dev libonnx-testdata libcmocka-dev python3-onnx python3-numpy \
                python3-torch clang libclang-rt-14-dev valgrind

RUNTIME_SRCS  := $(wildcard runtime/*.c runtime/kernels/*.c)
HOST_OBJS     := $(patsubst %.c,$(B)/%.o,$(wildcard runtime/host/*.c))
COMPILER_SRCS := $(wildcard compiler/*.c compiler/ops/*.c)
PROTO_SRCS    := $(wildcard proto/*.c)
RUNTIME_OBJS  := $(RUNTIME_SRCS:%.c=$(B)/%.o)
COMPILER_OBJS := $(filter-out $(B)/compiler/main.o,$(COMPILER_SRCS:%.c=$(B)/%.o)) \
                 $(PROTO_SRCS:%.c=$(B)/%.o) $(B)/proto/onnx.pb-c.o
UNIT_TESTS    := $(patsubst %.c,$(B)/%,$(wildcard tests/runtime/test_*.c tests/compiler/test_*.c))

.PHONY: all deps deps-bench test unit-test simd-test model-test train-test export-test conformance install-test demo install clean \
        bench
all: $(B)/onnxcc $(B)/libonnxcc.a $(B)/libonnxcc_host.a

# ------------------------------------------------------------------ packages
deps: deps-mcu
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# --------------------------------------------------------------- generation
$(B)/proto/onnx.pb-c.c $(B)/proto/onnx.pb-c.h: /usr/include/onnx/onnx.proto
	@mkdir -p $(B)/proto
	protoc-c --c_out=$(B)/proto -I/usr/include/onnx /usr/include/onnx/onnx.proto

$(B)/proto/onnx.pb-c.o: $(B)/proto/onnx.pb-c.c
	$(CC) -std=c99 $(CFLAGS) $(PROTO_INC) -c $< -o $@

# ------------------------------------------------------------------- objects
# The kernels are the hot path: gcc 12 vectorizes their loops only from -O3.
RUNTIME_OPT ?= -O3
$(B)/runtime/%.o: runtime/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(RUNTIME_OPT) -Iruntime -c $< -o $@

$(B)/proto/%.o: proto/%.c $(B)/proto/onnx.pb-c.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PROTO_INC) -Icompiler -c $< -o $@

$(B)/compiler/%.o: compiler/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Icompiler -Iruntime -Iproto -DONNXCC_RUNTIME_DIR='"$(CURDIR)/runtime"' -c $< -o $@

$(B)/libonnxcc.a: $(RUNTIME_OBJS)
	rm -f $@ && ar rcs $@ $^

# Host-only helpers (files, POSIX): kept out of the firmware runtime.
$(B)/libonnxcc_host.a: $(HOST_OBJS)
	rm -f $@ && ar rcs $@ $^

$(B)/onnxcc: $(B)/compiler/main.o $(COMPILER_OBJS) $(B)/libonnxcc.a
	$(CC) $(CFLAGS) -o $@ $^ -lprotobuf-c -lm

# --------------------------------------------------------------------- tests
# TEST_OPT: flags of simd-test's builds for the tests too (test_fastmath
# compiles fastmath.h itself).
$(B)/tests/runtime/%: tests/runtime/%.c tests/test.h $(B)/libonnxcc.a $(B)/libonnxcc_host.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(TEST_OPT) -Wno-missing-prototypes -Iruntime -Iruntime/host -Itests $< -o $@ \
	  $(B)/libonnxcc.a $(B)/libonnxcc_host.a -lcmocka -lm

$(B)/tests/compiler/%: tests/compiler/%.c tests/test.h $(COMPILER_OBJS) $(B)/libonnxcc.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -Icompiler -Iruntime -Iproto -Itests $< -o $@ \
	  $(COMPILER_OBJS) $(B)/libonnxcc.a -lprotobuf-c -lcmocka -lm

unit-test: $(UNIT_TESTS)
	@fail=0; for t in $(UNIT_TESTS); do $$t || fail=1; done; exit $$fail

model-test: all
	sh tests/models/run.sh
	sh tests/cli/run.sh

conformance: all
	$(PYTHON) tests/conformance/run.py

# The matrix-product engine's instruction sets (runtime/kernels/gemm_engine.h):
# the default build takes SSE2 on x86-64; this rebuilds the kernel tests with
# portable C (-DNN_NO_SIMD), with the scalar-core convolution the Cortex-M
# builds use (-DNN_CONV_DIRECT), and with AVX2+FMA and AVX-512F, each when
# this CPU runs it; with the activations and fastmath.h, whose multiply-adds
# are fused where the target has FMA.
SIMD_TESTS   := test_gemm test_grad_gemm test_conv test_grad_conv test_depthwise \
                test_fastmath test_activation test_grad_activation
SIMD_FLAGS_portable := -O3 -DNN_NO_SIMD
SIMD_FLAGS_direct   := -O3 -DNN_NO_SIMD -DNN_CONV_DIRECT
SIMD_FLAGS_avx2     := -O3 -mavx2 -mfma
SIMD_FLAGS_avx512f  := -O3 -mavx512f -mfma
simd-test:
	@for isa in portable direct avx2 avx512f; do \
	  case $$isa in portable|direct) ;; *) grep -qw $$isa /proc/cpuinfo || \
	    { echo "simd-test: $$isa: not on this CPU, skipped"; continue; } ;; esac; \
	  case $$isa in portable) f="$(SIMD_FLAGS_portable)";; direct) f="$(SIMD_FLAGS_direct)";; \
	    avx2) f="$(SIMD_FLAGS_avx2)";; avx512f) f="$(SIMD_FLAGS_avx512f)";; esac; \
	  $(MAKE) --no-print-directory B=$(B)/simd-$$isa RUNTIME_OPT="$$f" TEST_OPT="$$f" \
	    $(SIMD_TESTS:%=$(B)/simd-$$isa/tests/runtime/%) || exit 1; \
	  for t in $(SIMD_TESTS); do $(B)/simd-$$isa/tests/runtime/$$t || exit 1; done; \
	done

# Training parity with PyTorch: the cases of models/train_cases.txt.
train-test: all
	sh tests/train/run.sh

# Checkpoint -> onnxcc export -> PyTorch computes what the trained C computes.
export-test: all
	sh tests/export/run.sh

# The installed tree, used the way the README says: pkg-config and one cc line.
install-test: all
	rm -rf $(B)/stage && $(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(B)/stage >/dev/null
	$(B)/stage/bin/onnxcc compile models/lenet5_op13.onnx -o $(B)/stage/lenet.c
	PKG_CONFIG_PATH=$(B)/stage/lib/pkgconfig sh -c 'cc -O2 -std=c99 -Wall -Wextra -pedantic -Werror \
	  -c $(B)/stage/lenet.c -o $(B)/stage/lenet.o $$(pkg-config --cflags onnxcc) && \
	  cc $(B)/stage/lenet.o -o $(B)/stage/lenet.so -shared $$(pkg-config --libs onnxcc)'
	$(B)/stage/bin/onnxcc verify models/lenet5_op13.onnx models/lenet5_op13/test_data_set_0
	@echo "install-test: 1 passed, 0 failed"

test: deps
	$(MAKE) --no-print-directory all
	$(MAKE) --no-print-directory unit-test
	$(MAKE) --no-print-directory simd-test
	$(MAKE) --no-print-directory model-test
	$(MAKE) --no-print-directory install-test
	$(MAKE) --no-print-directory conformance
	@# --train: 20 steps of each case against the same run in PyTorch (tests/train/run.sh)
	$(MAKE) --no-print-directory train-test
	$(MAKE) --no-print-directory export-test
	$(MAKE) --no-print-directory fuzz-regressions
	$(MAKE) --no-print-directory malformed-test
	$(MAKE) --no-print-directory mcu-test

# ------------------------------------------------------------ hostile input
# Fuzzing, sanitizers and malformed models (README, "Hostile input").
# fuzz-regressions and malformed-test are part of `make test`; `make fuzz`
# and `make test-sanitize` are run by hand (clang, libclang-rt-14-dev).
.PHONY: fuzz fuzz-checkpoint fuzz-regressions malformed-test test-sanitize
FUZZ_SECONDS ?= 60
SAN_FLAGS    := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_B       := build/fuzz
ASAN_B       := build/asan
FUZZ_DATA    := /usr/share/libonnx-testdata/data
VALGRIND     := $(shell command -v valgrind >/dev/null && echo valgrind -q --leak-check=full \
                  --errors-for-leak-kinds=definite,indirect --error-exitcode=9)

# The harness with a plain main(), built like the unit tests.
$(B)/tests/fuzz/replay: tests/fuzz/replay.c tests/fuzz/fuzz_compile.c $(COMPILER_OBJS) $(B)/libonnxcc.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Icompiler -Iruntime -Iproto tests/fuzz/replay.c tests/fuzz/fuzz_compile.c -o $@ \
	  $(COMPILER_OBJS) $(B)/libonnxcc.a -lprotobuf-c -lm

# The checkpoint-loading harness, replayed the same way.
$(B)/tests/fuzz/replay_checkpoint: tests/fuzz/replay.c tests/fuzz/fuzz_checkpoint.c $(B)/libonnxcc.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iruntime tests/fuzz/replay.c tests/fuzz/fuzz_checkpoint.c -o $@ \
	  $(B)/libonnxcc.a -lm

# Every crash, hang or leak the fuzzer found, replayed (valgrind-checked when not sanitized).
fuzz-regressions: $(B)/tests/fuzz/replay $(B)/tests/fuzz/replay_checkpoint
	$(if $(findstring sanitize,$(CFLAGS)),,$(VALGRIND)) $(B)/tests/fuzz/replay \
	  $(wildcard tests/fuzz/regressions/*)
	$(if $(findstring sanitize,$(CFLAGS)),,$(VALGRIND)) $(B)/tests/fuzz/replay_checkpoint \
	  $(wildcard tests/fuzz/checkpoint/*)

# The libFuzzer binary, with its ONNX-aware mutator: every object built with
# coverage instrumentation in $(FUZZ_B).
$(B)/fuzz_compile: tests/fuzz/fuzz_compile.c tests/fuzz/mutator.c $(COMPILER_OBJS) $(B)/libonnxcc.a
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -Icompiler -Iruntime -Iproto -isystem $(B)/proto \
	  tests/fuzz/fuzz_compile.c tests/fuzz/mutator.c -o $@ \
	  $(COMPILER_OBJS) $(B)/libonnxcc.a -lprotobuf-c -lm

$(B)/fuzz_checkpoint: tests/fuzz/fuzz_checkpoint.c $(B)/libonnxcc.a
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -Iruntime tests/fuzz/fuzz_checkpoint.c -o $@ $(B)/libonnxcc.a -lm

# Checkpoint loading, FUZZ_SECONDS too; seeds and findings in tests/fuzz/checkpoint/.
fuzz-checkpoint:
	$(MAKE) --no-print-directory B=$(FUZZ_B) CC=clang RUNTIME_OPT=-O1 \
	  CFLAGS="$(SAN_FLAGS) -fsanitize=fuzzer-no-link" $(FUZZ_B)/fuzz_checkpoint
	mkdir -p $(FUZZ_B)/checkpoint-corpus $(FUZZ_B)/findings
	$(FUZZ_B)/fuzz_checkpoint -max_total_time=$(FUZZ_SECONDS) -max_len=1024 -timeout=10 \
	  -artifact_prefix=$(FUZZ_B)/findings/ $(FUZZ_B)/checkpoint-corpus tests/fuzz/checkpoint

# Seeds: models/ and the ONNX test models; build/fuzz/corpus keeps growing across runs.
# Findings land in build/fuzz/findings/; minimise them into tests/fuzz/regressions/.
fuzz:
	$(MAKE) --no-print-directory B=$(FUZZ_B) CC=clang RUNTIME_OPT=-O1 \
	  CFLAGS="$(SAN_FLAGS) -fsanitize=fuzzer-no-link" $(FUZZ_B)/fuzz_compile
	rm -rf $(FUZZ_B)/seeds && mkdir -p $(FUZZ_B)/seeds $(FUZZ_B)/corpus $(FUZZ_B)/findings
	cp models/*.onnx $(wildcard tests/fuzz/regressions/*) $(FUZZ_B)/seeds/
	for f in $(FUZZ_DATA)/*/*/model.onnx; do \
	  cp "$$f" $(FUZZ_B)/seeds/$$(echo "$${f#$(FUZZ_DATA)/}" | tr / _); done
	$(FUZZ_B)/fuzz_compile -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=10 \
	  -dict=tests/fuzz/onnx.dict \
	  -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_B)/findings/ $(FUZZ_B)/corpus $(FUZZ_B)/seeds

malformed-test: $(B)/onnxcc
	$(PYTHON) tests/malformed/make_corpus.py $(B)/malformed
	ONNXCC=$(B)/onnxcc MALFORMED=$(B)/malformed sh tests/malformed/run.sh

# The compiler, runtime and tests rebuilt with clang under ASan + UBSan in
# $(ASAN_B); the generated code and harness that verify builds are sanitized
# too ($$CC). ASan and valgrind do not mix: tests/models/run.sh finds a
# `valgrind` in $(ASAN_B)/shim that runs its command bare, and ASan checks.
SAN_ENV := CC="clang $(SAN_FLAGS)" ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
test-sanitize: deps
	$(MAKE) --no-print-directory B=$(ASAN_B) CC=clang CFLAGS="$(SAN_FLAGS)" RUNTIME_OPT=-O1 \
	  all unit-test fuzz-regressions
	$(MAKE) --no-print-directory B=$(ASAN_B) CC=clang CFLAGS="$(SAN_FLAGS)" simd-test
	@mkdir -p $(ASAN_B)/shim
	printf '#!/bin/sh\nwhile case $$1 in -*) true ;; *) false ;; esac; do shift; done\nexec "$$@"\n' \
	  > $(ASAN_B)/shim/valgrind && chmod +x $(ASAN_B)/shim/valgrind
	$(SAN_ENV) PATH="$(CURDIR)/$(ASAN_B)/shim:$$PATH" ONNXCC=$(ASAN_B)/onnxcc sh tests/models/run.sh
	$(SAN_ENV) $(PYTHON) tests/conformance/run.py --onnxcc $(ASAN_B)/onnxcc \
	  --results $(ASAN_B)/conformance.txt
	$(MAKE) --no-print-directory B=$(ASAN_B) CC=clang CFLAGS="$(SAN_FLAGS)" malformed-test

# ---------------------------------------------------------------------- demo
$(B)/demo/digits.c: $(B)/onnxcc models/digits_mlp.onnx
	@mkdir -p $(@D)
	$(B)/onnxcc compile models/digits_mlp.onnx --name digits -o $@

$(B)/demo/samples.h: examples/make_samples.py models/digits_mlp/labels.txt
	@mkdir -p $(@D)
	$(PYTHON) examples/make_samples.py models/digits_mlp $@

$(B)/demo/digits_demo: examples/digits_demo.c $(B)/demo/digits.c $(B)/demo/samples.h $(B)/libonnxcc.a
	$(CC) -O2 -std=c99 -Wall -Wextra -pedantic -Werror -Iruntime -I$(B)/demo \
	  examples/digits_demo.c $(B)/demo/digits.c $(B)/libonnxcc.a -lm -o $@

# Fine-tuning: model and mirrored digits are generated (deterministically) into build/demo.
$(B)/demo/finetune_data.h: models/make_finetune.py models/make_models.py models/common.py
	@mkdir -p $(@D)
	$(PYTHON) models/make_finetune.py $(@D)

$(B)/demo/finetune_mlp.onnx: $(B)/demo/finetune_data.h

$(B)/demo/finetune.c: $(B)/onnxcc $(B)/demo/finetune_mlp.onnx
	$(B)/onnxcc compile $(B)/demo/finetune_mlp.onnx --name finetune --train --batch 16 \
	  --optimizer adam -o $@

$(B)/demo/finetune_demo: examples/finetune_demo.c $(B)/demo/finetune.c $(B)/demo/finetune_data.h $(B)/libonnxcc.a
	$(CC) -O2 -std=c99 -Wall -Wextra -pedantic -Werror -Iruntime -I$(B)/demo \
	  examples/finetune_demo.c $(B)/demo/finetune.c $(B)/libonnxcc.a -lm -o $@

demo: deps
	$(MAKE) --no-print-directory $(B)/demo/digits_demo
	$(B)/onnxcc info models/digits_mlp.onnx --name digits
	@echo
	$(B)/demo/digits_demo
	@echo
	$(MAKE) --no-print-directory $(B)/demo/finetune_demo
	$(B)/demo/finetune_demo

# ----------------------------------------------------------------- benchmarks
# `make bench` is not part of `make test`: it installs what only it needs
# (deps-bench: torchvision and time from Debian, node if missing, and onnxruntime-node
# from npm into build/bench/node, nothing of it in git), exports the models
# into build/bench/ (bench/export_models.py), then bench/run.py builds the
# generated C at -O3 -march=native and at -O2 (generic x86-64), each against
# its own build of the runtime kernels, and times it against ONNX Runtime and
# PyTorch, interleaved in one run. It prints the report (README, "Benchmarks")
# and writes it to build/bench/results.md. About 5 minutes on 2 cores.
BENCH_DEB_PACKAGES := python3-torchvision time
BENCH_ORT := $(B)/bench/node/node_modules/onnxruntime-node

deps-bench: deps
	@missing=$$(for p in $(BENCH_DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "deps-bench: installing" $$missing; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@# The install script of onnxruntime-node would download a CUDA add-on: skip it (CPU only).
	@[ -f $(BENCH_ORT)/package.json ] || { mkdir -p $(B)/bench/node && \
	  echo "deps-bench: npm install onnxruntime-node into $(B)/bench/node" && \
	  ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --no-audit --no-fund \
	    --prefix $(B)/bench/node onnxruntime-node; }

bench: deps-bench
	$(MAKE) --no-print-directory all
	$(PYTHON) bench/export_models.py $(B)/bench
	$(PYTHON) bench/run.py $(B)/bench

# ------------------------------------------------------------------ Cortex-M
# `make mcu-test` (part of `make test`): the runtime and generated models
# cross-compiled for a Cortex-M4F (hard float) and a Cortex-M3 (soft float)
# under the bare-metal warning set, linked with picolibc and the startup code
# and linker script of examples/cortex-m/, run under QEMU's MPS2 boards with
# semihosting and checked against PyTorch's goldens; training on both cores
# (the cases MCU_TRAIN of models/train_cases.txt, compiled with --train
# --name net, 20 steps against PyTorch's run: tests/mcu/test_train.c); the
# workspace test (--arena caller, one instance interrupting another); the
# link checks (no stdio, no double precision); every model of
# tests/models/models.txt compiled for both cores; and examples/cortex-m/
# through its own Makefile (tests/mcu/run.sh). `make mcu-report` prints the
# footprint and instruction tables of README "Cortex-M" (inference and
# training step). Everything goes to build/mcu/.
.PHONY: deps-mcu mcu-test mcu-report
MCU_PACKAGES  := gcc-arm-none-eabi picolibc-arm-none-eabi qemu-system-arm
MCU_MODELS    := lenet5_op13 activations_op13
# Training-parity cases (models/train_cases.txt, mode parity) run on both cores:
# the MLP with momentum and Adam, and the CNN (every activation's backward,
# convolutions, pooling, frozen BatchNorm) with Adam.
MCU_TRAIN     := mlp_momentum mlp_adam cnn_bn_adam
MCU_CORES     := m4f m3
MCU_CPU_m4f   := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
MCU_CPU_m3    := -mcpu=cortex-m3 -mthumb
MCU_BOARD_m4f := mps2-an386
MCU_BOARD_m3  := mps2-an385
MCU_CC        := arm-none-eabi-gcc
# What runtime and generated code promise on bare metal, besides the usual:
# no float silently promoted to double (a soft-double call on these cores),
# no silent narrowing.
MCU_WARN      := -std=c99 -Wall -Wextra -pedantic -Wdouble-promotion -Wconversion -Werror
MCU_CFLAGS    := -O2 -DNN_CONV_DIRECT -DNN_GEMM_KC=64 -DNN_GEMM_NR=8 -DNN_GEMM_PACK_MC=8 -ffunction-sections -fdata-sections --specs=picolibc.specs $(MCU_WARN)
# The example's startup.c and linker script instead of picolibc's crt0;
# semihosting for stdout and exit; printf without floating point.
MCU_LDFLAGS   := --specs=picolibc.specs --oslib=semihost -nostartfiles \
                 -T examples/cortex-m/mps2-an386.ld -Wl,--gc-sections -DPICOLIBC_INTEGER_PRINTF_SCANF
MCU_GEN       := $(B)/mcu/gen
MCU_INC       := -Iruntime -I$(MCU_GEN) -Itests/mcu -Iexamples/cortex-m
MCU_KERNELS   := $(patsubst runtime/kernels/%.c,%,$(wildcard runtime/kernels/*.c))
MCU_ELFS      := $(foreach c,$(MCU_CORES),$(MCU_MODELS:%=$(B)/mcu/$(c)/test_%.elf) \
                   $(MCU_TRAIN:%=$(B)/mcu/$(c)/train_%.elf)) \
                 $(B)/mcu/m4f/test_workspaces.elf
# Kept for the link checks and the report (make would delete them as intermediates).
.SECONDARY: $(foreach c,$(MCU_CORES),$(MCU_MODELS:%=$(B)/mcu/$(c)/gen/%.o) \
              $(MCU_MODELS:%=$(B)/mcu/$(c)/test_%.o) \
              $(MCU_TRAIN:%=$(B)/mcu/$(c)/train/%/net.o) $(MCU_TRAIN:%=$(B)/mcu/$(c)/train/%/test_train.o)) \
            $(MCU_MODELS:%=$(MCU_GEN)/%.c) $(MCU_MODELS:%=$(MCU_GEN)/%_golden.h) \
            $(MCU_TRAIN:%=$(MCU_GEN)/train/%/net.c) $(MCU_TRAIN:%=$(MCU_GEN)/train/%/case.h) \
            $(foreach c,$(MCU_CORES),$(B)/mcu/$(c)/mcu.o $(B)/mcu/$(c)/startup.o)

deps-mcu:
	@missing=$$(for p in $(MCU_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "deps-mcu: installing $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Generated C and golden headers are the same for every core.
$(MCU_GEN)/%.c: models/%.onnx $(B)/onnxcc
	@mkdir -p $(@D)
	$(B)/onnxcc compile $< --name $* -o $@

$(MCU_GEN)/lenet_ws.c: models/lenet5_op13.onnx $(B)/onnxcc
	@mkdir -p $(@D)
	$(B)/onnxcc compile $< --name lenet_ws --arena caller -o $@

$(MCU_GEN)/%_golden.h: tests/mcu/goldens.py models/%/test_data_set_0/output_0.pb
	@mkdir -p $(@D)
	$(PYTHON) tests/mcu/goldens.py models/$* $@

# Training: a case's line of models/train_cases.txt (name model golden optimizer
# mode trainable) gives the model, the --optimizer and --trainable; its data and
# PyTorch's run, as tests/train/run.sh reads them (tests/train/gen_case.py).
MCU_TRAIN_CASE = set -- $$(awk '$$1 == "$*"' models/train_cases.txt); \
  [ "$$5" = parity ] || { echo "$*: no parity case in models/train_cases.txt"; exit 1; }

$(MCU_GEN)/train/%/net.c: models/train_cases.txt $(wildcard models/train_*.onnx) $(B)/onnxcc
	@mkdir -p $(@D)
	@$(MCU_TRAIN_CASE); sel=; [ "$$6" = - ] || sel=" --trainable $$6"; \
	cmd="$(B)/onnxcc compile models/$$2.onnx --name net --train --batch 8 --optimizer $$4$$sel -o $@"; \
	echo "$$cmd"; $$cmd

$(MCU_GEN)/train/%/case.h: tests/train/gen_case.py models/train_cases.txt $(wildcard models/train_*/*.npz)
	@mkdir -p $(@D)
	@$(MCU_TRAIN_CASE); cmd="$(PYTHON) tests/train/gen_case.py models/$$2/data.npz models/$$2/$$3.npz $* parity"; \
	echo "$$cmd > $@"; $$cmd > $@.tmp && mv $@.tmp $@

# Per core: the runtime archive, the model objects, the test programs.
define MCU_CORE_RULES
$(B)/mcu/$(1)/runtime/%.o: runtime/kernels/%.c
	@mkdir -p $$(@D)
	$(MCU_CC) $(MCU_CPU_$(1)) $(MCU_CFLAGS) -MMD -MP -Iruntime -c $$< -o $$@

$(B)/mcu/$(1)/libonnxcc.a: $(MCU_KERNELS:%=$(B)/mcu/$(1)/runtime/%.o)
	rm -f $$@ && arm-none-eabi-ar rcs $$@ $$^

$(B)/mcu/$(1)/gen/%.o: $(MCU_GEN)/%.c
	@mkdir -p $$(@D)
	$(MCU_CC) $(MCU_CPU_$(1)) $(MCU_CFLAGS) -MMD -MP -Iruntime -c $$< -o $$@

$(B)/mcu/$(1)/%.o: examples/cortex-m/%.c
	@mkdir -p $$(@D)
	$(MCU_CC) $(MCU_CPU_$(1)) $(MCU_CFLAGS) -MMD -MP $(MCU_INC) -c $$< -o $$@

$(B)/mcu/$(1)/%.o: tests/mcu/%.c
	@mkdir -p $$(@D)
	$(MCU_CC) $(MCU_CPU_$(1)) $(MCU_CFLAGS) -MMD -MP $(MCU_INC) -c $$< -o $$@

$(B)/mcu/$(1)/test_%.o: tests/mcu/test_model.c $(MCU_GEN)/%.c $(MCU_GEN)/%_golden.h
	$(MCU_CC) $(MCU_CPU_$(1)) $(MCU_CFLAGS) -MMD -MP $(MCU_INC) -DMODEL_HEADER='"$$*.h"' \
	  -DMODEL_RUN=$$*_run -DGOLDEN_HEADER='"$$*_golden.h"' -c $$< -o $$@

$(B)/mcu/$(1)/test_%.elf: $(B)/mcu/$(1)/test_%.o $(B)/mcu/$(1)/gen/%.o $(B)/mcu/$(1)/mcu.o \
                          $(B)/mcu/$(1)/startup.o $(B)/mcu/$(1)/libonnxcc.a examples/cortex-m/mps2-an386.ld
	$(MCU_CC) $(MCU_CPU_$(1)) $(MCU_LDFLAGS) -Wl,-Map=$$(@:.elf=.map),--cref \
	  $$(filter %.o %.a,$$^) -lm -o $$@

$(B)/mcu/$(1)/train/%/net.o: $(MCU_GEN)/train/%/net.c
	@mkdir -p $$(@D)
	$(MCU_CC) $(MCU_CPU_$(1)) $(MCU_CFLAGS) -MMD -MP -Iruntime -c $$< -o $$@

$(B)/mcu/$(1)/train/%/test_train.o: tests/mcu/test_train.c $(MCU_GEN)/train/%/net.c \
                                    $(MCU_GEN)/train/%/case.h
	@mkdir -p $$(@D)
	$(MCU_CC) $(MCU_CPU_$(1)) $(MCU_CFLAGS) -MMD -MP -I$(MCU_GEN)/train/$$* $(MCU_INC) -c $$< -o $$@

$(B)/mcu/$(1)/train_%.elf: $(B)/mcu/$(1)/train/%/test_train.o $(B)/mcu/$(1)/train/%/net.o \
                           $(B)/mcu/$(1)/mcu.o $(B)/mcu/$(1)/startup.o $(B)/mcu/$(1)/libonnxcc.a \
                           examples/cortex-m/mps2-an386.ld
	$(MCU_CC) $(MCU_CPU_$(1)) $(MCU_LDFLAGS) -Wl,-Map=$$(@:.elf=.map),--cref \
	  $$(filter %.o %.a,$$^) -lm -o $$@
endef
$(foreach c,$(MCU_CORES),$(eval $(call MCU_CORE_RULES,$(c))))

# Two instances of lenet5_op13 compiled with --arena caller (Cortex-M4F).
$(B)/mcu/m4f/test_workspaces.o: tests/mcu/test_workspaces.c $(MCU_GEN)/lenet_ws.c \
                                $(MCU_GEN)/lenet5_op13_golden.h
	$(MCU_CC) $(MCU_CPU_m4f) $(MCU_CFLAGS) -MMD -MP $(MCU_INC) -DMODEL_HEADER='"lenet_ws.h"' \
	  -DMODEL_RUN=lenet_ws_run -DWORKSPACE_BYTES=LENET_WS_WORKSPACE_BYTES \
	  -DWORKSPACE_ALIGN=LENET_WS_WORKSPACE_ALIGN -DGOLDEN_HEADER='"lenet5_op13_golden.h"' -c $< -o $@

$(B)/mcu/m4f/test_workspaces.elf: $(B)/mcu/m4f/test_workspaces.o $(B)/mcu/m4f/gen/lenet_ws.o \
                                  $(B)/mcu/m4f/mcu.o $(B)/mcu/m4f/startup.o $(B)/mcu/m4f/libonnxcc.a \
                                  examples/cortex-m/mps2-an386.ld
	$(MCU_CC) $(MCU_CPU_m4f) $(MCU_LDFLAGS) -Wl,-Map=$(@:.elf=.map),--cref $(filter %.o %.a,$^) -lm -o $@

mcu-test: deps-mcu
	$(MAKE) --no-print-directory $(B)/onnxcc $(MCU_ELFS)
	@MAKE="$(MAKE)" ONNXCC=$(B)/onnxcc MCU_MODELS="$(MCU_MODELS)" MCU_TRAIN="$(MCU_TRAIN)" \
	  MCU_CORES="$(foreach c,$(MCU_CORES),$(c):$(MCU_BOARD_$(c)))" \
	  $(foreach c,$(MCU_CORES),MCU_CC_$(c)="$(MCU_CC) $(MCU_CPU_$(c)) $(MCU_CFLAGS) -Iruntime") \
	  sh tests/mcu/run.sh

mcu-report: mcu-test
	@echo
	@$(PYTHON) tests/mcu/report.py $(B)/mcu $(MCU_MODELS)
	@echo
	@$(PYTHON) tests/mcu/report.py --train $(B)/mcu $(MCU_TRAIN)

# ------------------------------------------------------------------- install
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/onnxcc
	install -m 755 $(B)/onnxcc $(DESTDIR)$(PREFIX)/bin/onnxcc
	install -m 644 $(B)/libonnxcc.a $(B)/libonnxcc_host.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 runtime/nn.h runtime/host/nn_host.h $(DESTDIR)$(PREFIX)/include/onnxcc/
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: onnxcc\nDescription: runtime kernels for C code generated by onnxcc\nVersion: 0.1\nCflags: -I$${includedir}/onnxcc\nLibs: -L$${libdir} -lonnxcc -lm\n' \
	  '$(PREFIX)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/onnxcc.pc

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
