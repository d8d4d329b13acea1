# onnxcc - one non-recursive Makefile; everything it makes goes to build/.
#
#   make            build/onnxcc and build/libonnxcc.a
#   make test       unit tests, model goldens, ONNX conformance
#   make demo       compile a model from models/, run it, print predictions
#   make install PREFIX=/usr/local
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
                python3-torch clang

RUNTIME_SRCS  := $(wildcard runtime/*.c runtime/kernels/*.c)
HOST_OBJS     := $(patsubst %.c,$(B)/%.o,$(wildcard runtime/host/*.c))
COMPILER_SRCS := $(wildcard compiler/*.c compiler/ops/*.c)
PROTO_SRCS    := $(wildcard proto/*.c)
RUNTIME_OBJS  := $(RUNTIME_SRCS:%.c=$(B)/%.o)
COMPILER_OBJS := $(filter-out $(B)/compiler/main.o,$(COMPILER_SRCS:%.c=$(B)/%.o)) \
                 $(PROTO_SRCS:%.c=$(B)/%.o) $(B)/proto/onnx.pb-c.o
UNIT_TESTS    := $(patsubst %.c,$(B)/%,$(wildcard tests/runtime/test_*.c tests/compiler/test_*.c))

.PHONY: all deps test unit-test model-test conformance install-test demo install clean
all: $(B)/onnxcc $(B)/libonnxcc.a $(B)/libonnxcc_host.a

# ------------------------------------------------------------------ packages
deps:
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
$(B)/tests/runtime/%: tests/runtime/%.c tests/test.h $(B)/libonnxcc.a $(B)/libonnxcc_host.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -Iruntime -Iruntime/host -Itests $< -o $@ \
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
	$(MAKE) --no-print-directory model-test
	$(MAKE) --no-print-directory install-test
	$(MAKE) --no-print-directory conformance

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

demo: deps
	$(MAKE) --no-print-directory $(B)/demo/digits_demo
	$(B)/onnxcc info models/digits_mlp.onnx --name digits
	@echo
	$(B)/demo/digits_demo

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
