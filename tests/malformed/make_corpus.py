#!/usr/bin/python3
"""Malformed and hostile ONNX models, one file per case, for tests/malformed/run.sh.

Usage: make_corpus.py OUT_DIR

Writes OUT_DIR/<case>.onnx for every case below (and OUT_DIR/<case>.flags
when the case compiles with extra options). tests/malformed/expected.txt
lists, per case, the exit code onnxcc must give (1) and a fragment of its
message. Cases are built with the onnx helpers where the protobuf is valid,
and by byte edits where it is not. Nothing here is committed output: the
corpus is regenerated into build/ on every run.
"""
import os
import shutil
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1] if len(sys.argv) > 1 else "build/malformed"
FLOAT = TensorProto.FLOAT


def save(name, data, flags=""):
    if not isinstance(data, (bytes, bytearray)):
        data = data.SerializeToString()
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(data)
    if flags:
        with open(os.path.join(OUT, name + ".flags"), "w") as f:
            f.write(flags + "\n")


def model(nodes, inputs, outputs, inits=(), opset=13, **kw):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], **kw)


def vi(name, shape, dtype=FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def empty_tensor(name, dims):
    t = TensorProto()
    t.name, t.data_type = name, FLOAT
    t.dims.extend(dims)
    return t


def relu_model(shape=(1, 4), **kw):
    return model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                 [vi("x", list(shape))], [vi("y", list(shape))], **kw)


def gemm_model():
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), "W")
    b = numpy_helper.from_array(np.zeros(3, np.float32), "B")
    return model([helper.make_node("Gemm", ["x", "W", "B"], ["y"], name="fc", transB=1)],
                 [vi("x", [1, 4])], [vi("y", [1, 3])], inits=[w, b])


# Protobuf wire format, for the byte-level cases.
def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def cases():
    # --- not a model at all
    save("empty", b"")
    save("random_bytes", bytes((i * 197 + 61) % 256 for i in range(512)) + b"\xff\xff")
    save("tensor_not_model", numpy_helper.from_array(np.ones(3, np.float32), "t"))

    # --- truncated protobuf: inside the graph, and before the trailing opset_import
    full = gemm_model().SerializeToString()
    for pct in (10, 50, 90):
        save(f"truncated_{pct}pct", full[: len(full) * pct // 100])
    save("truncated_last_byte", full[:-1])
    m = gemm_model()
    del m.opset_import[:]
    save("truncated_before_opset", m)  # a valid prefix: the opset import is gone

    # --- wrong wire types for known fields
    # ModelProto.graph (7) as a varint; ModelProto.ir_version (1) as bytes.
    save("wire_graph_as_varint", field(1, 0, varint(8)) + field(7, 0, varint(1)))
    save("wire_ir_version_as_bytes", field(1, 2, b"abc") + gemm_model().SerializeToString())
    # GraphProto.node (1) as a fixed32 inside an otherwise valid graph.
    g = gemm_model().graph.SerializeToString()
    save("wire_node_as_fixed32", field(1, 0, varint(8)) + field(7, 2, field(1, 5, b"\0\0\0\0") + g)
         + field(8, 2, field(2, 0, varint(13))))
    # Messages nested 100000 deep (node -> attribute -> subgraph -> node ...): protobuf-c
    # unpacks recursively, so this 1.2 MB file used to overflow the stack.
    prefixes, size = [], 0
    for _ in range(100000):  # prefixes only, innermost first: linear, not quadratic
        for num in (6, 5, 1):
            key = varint(num << 3 | 2) + varint(size)
            prefixes.append(key)
            size += len(key)
    save("nested_too_deep", field(1, 0, varint(8)) + varint(7 << 3 | 2) + varint(size)
         + b"".join(reversed(prefixes)))
    # A length prefix far beyond the end of the file.
    save("length_past_end", field(1, 0, varint(8)) + varint(7 << 3 | 2) + varint(1 << 40) + b"\0")

    # --- shapes: negative, zero, too many, too large
    m = gemm_model()
    m.graph.initializer[0].dims[0] = -3
    save("initializer_negative_dim", m)
    m = relu_model()
    m.graph.input[0].type.tensor_type.shape.dim[1].dim_value = -4
    save("input_negative_dim", m)
    save("input_zero_batch", relu_model(shape=(0, 4)))
    save("input_empty_huge_dims", relu_model(shape=(0, 1 << 40)))
    # Legal edge cases whose generated C must build (run.sh builds it): an empty
    # intermediate in the arena (it plans 0 bytes), a Split output nobody reads.
    save("empty_intermediate", model(
        [helper.make_node("Relu", ["x"], ["a"], name="r1"),
         helper.make_node("Relu", ["a"], ["b"], name="r2"),
         helper.make_node("Mul", ["a", "b"], ["y"], name="mul")],
        [vi("x", [0, 4])], [vi("y", [0, 4])]))
    save("split_unread_output", model(
        [helper.make_node("Split", ["x"], ["a", "b"], name="split", axis=1, split=[2, 2]),
         helper.make_node("Relu", ["b"], ["y"], name="relu")],
        [vi("x", [1, 4])], [vi("y", [1, 2])], opset=11))
    save("input_rank_9", relu_model(shape=[1] * 9))
    save("input_unknown_shape", model([helper.make_node("Relu", ["x"], ["y"])],
                                      [helper.make_tensor_value_info("x", FLOAT, None)],
                                      [vi("y", [1])]))
    save("input_symbolic_dim", relu_model(shape=("N", "width")))
    save("input_too_many_elements", relu_model(shape=(1 << 20, 1 << 20)))
    save("input_dims_overflow", relu_model(shape=(1 << 40, 1 << 40)))
    t = helper.make_tensor("W", FLOAT, [1] * 9, [1.0])
    save("initializer_rank_9", model([helper.make_node("Add", ["x", "W"], ["y"])],
                                     [vi("x", [1])], [vi("y", [1])], inits=[t]))
    big = empty_tensor("W", [1 << 40, 1 << 40])
    save("initializer_dims_overflow", model([helper.make_node("Add", ["x", "W"], ["y"])],
                                            [vi("x", [1])], [vi("y", [1])], inits=[big]))
    big = empty_tensor("W", [1 << 15, 1 << 15])
    save("initializer_over_element_limit", model([helper.make_node("Add", ["x", "W"], ["y"])],
                                                 [vi("x", [1])], [vi("y", [1])], inits=[big]))

    # --- limits on what a tiny file asks the compiler to make
    shape = numpy_helper.from_array(np.array([1 << 16, 1 << 16], np.int64), "shape")
    save("constant_of_shape_huge", model(
        [helper.make_node("ConstantOfShape", ["shape"], ["c"], name="zeros"),
         helper.make_node("Add", ["x", "c"], ["y"], name="add")],
        [vi("x", [1])], [vi("y", [1 << 16, 1 << 16])], inits=[shape]))
    shape = numpy_helper.from_array(np.array([1 << 31, 1 << 31, 1 << 31], np.int64), "shape")
    save("expand_overflow", model(
        [helper.make_node("Expand", ["x", "shape"], ["y"], name="expand")],
        [vi("x", [1, 1, 1])], [vi("y", [1, 1, 1])], inits=[shape]))
    reps = numpy_helper.from_array(np.array([1 << 62, 4], np.int64), "reps")
    save("tile_overflow", model(
        [helper.make_node("Tile", ["x", "reps"], ["y"], name="tile")],
        [vi("x", [2, 2])], [vi("y", [2, 2])], inits=[reps]))
    scalars = [numpy_helper.from_array(np.array(v, np.int64), n)
               for n, v in (("start", 0), ("limit", 1 << 30), ("delta", 1))]
    save("range_huge", model(
        [helper.make_node("Range", ["start", "limit", "delta"], ["r"], name="range"),
         helper.make_node("Cast", ["r"], ["rf"], to=FLOAT),
         helper.make_node("Add", ["x", "rf"], ["y"], name="add")],
        [vi("x", [1])], [vi("y", [1 << 30])], inits=scalars))
    scalars = [numpy_helper.from_array(np.array(v, np.int64), n)
               for n, v in (("start", -(1 << 63)), ("limit", (1 << 63) - 1), ("delta", 1))]
    save("range_int64_span", model(
        [helper.make_node("Range", ["start", "limit", "delta"], ["y"], name="range")],
        [], [vi("y", [1])], inits=scalars))
    pads = numpy_helper.from_array(np.array([0, 1 << 62, 0, 1 << 62], np.int64), "pads")
    save("pad_overflow", model(
        [helper.make_node("Pad", ["x", "pads"], ["y"], name="pad")],
        [vi("x", [1, 4])], [vi("y", [1, 4])], inits=[pads]))
    shape = numpy_helper.from_array(np.array([1 << 40, 1 << 40], np.int64), "shape")
    save("reshape_overflow", model(
        [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")],
        [vi("x", [1, 4])], [vi("y", [1, 4])], inits=[shape]))
    save("conv_huge_stride", model(
        [helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[1, 1],
                          strides=[1 << 40, 1])],
        [vi("x", [1, 1, 4, 4])], [vi("y", [1, 1, 1, 4])]))
    m = model([helper.make_node("Relu", ["x"], ["a"], name="r1"),
               helper.make_node("Relu", ["a"], ["b"], name="r2"),
               helper.make_node("Relu", ["b"], ["y"], name="r3")], [vi("x", [4])], [vi("y", [4])])
    save("over_node_limit", m, flags="--max-nodes 2")
    # 10000 tensors live at once (a fan of Relus summed by a tree of Adds), then
    # refused at emission for its int64 output: planning must stay fast (the
    # planner was cubic in the number of live buffers: hours for this file).
    fan = [helper.make_node("Relu", ["x"], [f"r{i}"]) for i in range(10000)]
    level, k = [f"r{i}" for i in range(10000)], 0
    while len(level) > 1:
        nxt = []
        for j in range(0, len(level) - 1, 2):
            fan.append(helper.make_node("Add", [level[j], level[j + 1]], [f"s{k}"]))
            nxt.append(f"s{k}")
            k += 1
        level = nxt + level[len(level) - len(level) % 2:]
    fan += [helper.make_node("Identity", [level[0]], ["y"]),
            helper.make_node("Shape", ["x"], ["shape"], name="shape")]
    save("wide_graph_int_output", model(fan, [vi("x", [1, 8])],
                                        [vi("y", [1, 8]), vi("shape", [2], TensorProto.INT64)]))
    save("over_weight_limit", gemm_model(), flags="--max-weight-bytes 40")
    save("over_element_limit", gemm_model(), flags="--max-elements 8")

    # --- graph structure
    save("cycle", model([helper.make_node("Relu", ["x2"], ["y"], name="a"),
                         helper.make_node("Add", ["x", "y"], ["x2"], name="b")],
                        [vi("x", [4])], [vi("y", [4])]))
    save("self_loop", model([helper.make_node("Add", ["x", "y"], ["y"], name="loop")],
                            [vi("x", [4])], [vi("y", [4])]))
    save("input_not_produced", model([helper.make_node("Add", ["x", "ghost"], ["y"], name="add")],
                                     [vi("x", [4])], [vi("y", [4])]))
    save("output_not_produced", model([helper.make_node("Relu", ["x"], ["y"])],
                                      [vi("x", [4])], [vi("z", [4])]))
    save("no_outputs", model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [4])], []))
    save("node_without_outputs", model([helper.make_node("Relu", ["x"], [], name="mute"),
                                        helper.make_node("Relu", ["x"], ["y"])],
                                       [vi("x", [4])], [vi("y", [4])]))
    save("node_missing_input", model([helper.make_node("Relu", [], ["y"], name="empty")],
                                     [vi("x", [4])], [vi("y", [4])]))
    save("unknown_operator", model([helper.make_node("Frobnicate", ["x"], ["y"], name="f")],
                                   [vi("x", [4])], [vi("y", [4])]))
    save("unknown_domain", model([helper.make_node("Relu", ["x"], ["y"], name="f",
                                                   domain="com.example")],
                                 [vi("x", [4])], [vi("y", [4])]))

    # --- duplicate names
    m = gemm_model()
    m.graph.initializer.append(m.graph.initializer[0])
    save("duplicate_initializer", m)
    save("duplicate_node_output", model([helper.make_node("Relu", ["x"], ["y"], name="a"),
                                         helper.make_node("Relu", ["x"], ["y"], name="b")],
                                        [vi("x", [4])], [vi("y", [4])]))
    save("duplicate_graph_input", model([helper.make_node("Relu", ["x"], ["y"])],
                                        [vi("x", [4]), vi("x", [4])], [vi("y", [4])]))
    save("output_overwrites_input", model([helper.make_node("Relu", ["x"], ["x"], name="a")],
                                          [vi("x", [4])], [vi("x", [4])]))
    save("output_overwrites_initializer", model(
        [helper.make_node("Relu", ["x"], ["W"], name="a")], [vi("x", [3, 4])], [vi("W", [3, 4])],
        inits=[numpy_helper.from_array(np.ones((3, 4), np.float32), "W")]))
    m = model([helper.make_node("LeakyRelu", ["x"], ["y"], name="lr", alpha=0.1)],
              [vi("x", [4])], [vi("y", [4])])
    m.graph.node[0].attribute.append(m.graph.node[0].attribute[0])
    save("duplicate_attribute", m)

    # --- tensor data
    m = gemm_model()
    t = m.graph.initializer[0]
    t.ClearField("raw_data")
    t.float_data.extend([1.0] * 11)
    save("initializer_too_few_values", m)
    m = gemm_model()
    m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:-4]
    save("raw_data_short", m)
    m = gemm_model()  # 2^27 floats claimed by a few bytes: refused before allocating 512 MB
    del m.graph.initializer[0].dims[:]
    m.graph.initializer[0].dims.extend([1 << 27])
    save("raw_data_claims_huge", m)
    m = gemm_model()
    m.graph.initializer[0].raw_data += b"\0" * 8
    save("raw_data_long", m)
    m = gemm_model()
    m.graph.initializer[0].data_type = TensorProto.STRING
    save("initializer_string", m)
    m = gemm_model()
    m.graph.initializer[0].data_type = TensorProto.COMPLEX64
    save("initializer_complex", m)
    m = gemm_model()
    m.graph.initializer[0].data_type = 99
    save("initializer_unknown_type", m)
    m = gemm_model()
    m.graph.initializer[0].segment.begin = 0
    m.graph.initializer[0].segment.end = 12
    save("initializer_segment", m)
    m = gemm_model()
    m.graph.sparse_initializer.add().values.name = "s"
    save("sparse_initializer", m)
    m = relu_model()
    m.graph.input[0].type.tensor_type.elem_type = TensorProto.INT8
    save("input_int8", m)
    m = relu_model()
    m.graph.input[0].type.ClearField("tensor_type")
    m.graph.input[0].type.sequence_type.elem_type.tensor_type.elem_type = FLOAT
    save("input_sequence", m)

    # --- external data
    def external(name, location, extra=()):
        m = gemm_model()
        t = m.graph.initializer[0]
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location),) + tuple(extra):
            e = t.external_data.add()
            e.key, e.value = k, v
        save(name, m)
    external("external_missing_file", "missing_weights.bin")
    external("external_parent_dir", "../outside.bin")
    external("external_absolute", "/etc/hostname")
    external("external_no_location", "")
    with open(os.path.join(OUT, "external_weights.bin"), "wb") as f:
        f.write(np.arange(12, dtype=np.float32).tobytes())
    external("external_short_file", "external_weights.bin", (("offset", "8"),))
    external("external_wrong_length", "external_weights.bin", (("length", "4"),))
    link = os.path.join(OUT, "external_link.bin")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.abspath(os.path.join(OUT, "..")), link)  # a folder outside
    external("external_symlink_outside", "external_link.bin/outside.bin")
    os.mkfifo(os.path.join(OUT, "external_fifo.bin"))  # opening it would block forever
    external("external_fifo", "external_fifo.bin")
    with open(os.path.join(OUT, "..", "outside.bin"), "wb") as f:
        f.write(np.arange(12, dtype=np.float32).tobytes())

    # --- attributes of the wrong type
    save("attr_strides_float", model(
        [helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[2, 2], strides=1.5)],
        [vi("x", [1, 1, 4, 4])], [vi("y", [1, 1, 2, 2])]))
    save("attr_alpha_string", model(
        [helper.make_node("LeakyRelu", ["x"], ["y"], name="lr", alpha="big")],
        [vi("x", [4])], [vi("y", [4])]))
    save("attr_axis_ints", model(
        [helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=[1, 2])],
        [vi("x", [1, 4])], [vi("y", [1, 4])]))
    m = model([helper.make_node("Constant", [], ["c"], name="const",
                                value=helper.make_tensor("v", FLOAT, [1], [1.0])),
               helper.make_node("Add", ["x", "c"], ["y"])], [vi("x", [1])], [vi("y", [1])])
    m.graph.node[0].attribute[0].ClearField("t")
    save("attr_tensor_missing", m)

    # --- opset imports
    m = relu_model()
    del m.opset_import[:]
    save("opset_missing", m)
    save("opset_too_new", relu_model(opset=99))
    m = relu_model()
    m.opset_import[0].version = 1 << 40
    save("opset_out_of_range", m)
    m = relu_model()
    m.opset_import[0].domain = "com.example"
    save("opset_other_domain_only", m)

    # --- names that generated C cannot hold
    save("name_comment_end", model([helper.make_node("Relu", ["x"], ["y*/"], name="r")],
                                   [vi("x", [4])], [vi("y*/", [4])]))
    save("name_quote", model([helper.make_node("Relu", ["x\""], ["y"], name="r")],
                             [vi("x\"", [4])], [vi("y", [4])]))
    save("name_control_char", model([helper.make_node("Relu", ["x"], ["y"], name="r\x1b[2J")],
                                    [vi("x", [4])], [vi("y", [4])]))
    save("name_trigraph", model([helper.make_node("Relu", ["x"], ["y"], name="what??/")],
                                [vi("x", [4])], [vi("y", [4])]))
    m = relu_model()
    m.producer_name = "evil */ int x;"
    save("producer_comment_end", m)
    raw = bytearray(relu_model().SerializeToString())
    i = raw.index(b"relu")
    raw[i:i + 4] = b"\xc3\x28lu"  # not UTF-8
    save("name_not_utf8", bytes(raw))


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    cases()
    print(f"malformed: {len([f for f in os.listdir(OUT) if f.endswith('.onnx')])} cases in {OUT}")


if __name__ == "__main__":
    main()
