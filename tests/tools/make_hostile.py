#!/usr/bin/python3
"""Write a corpus of malformed, hostile and valid-but-odd ONNX files.

    /usr/bin/python3 tests/tools/make_hostile.py OUT_DIR [REAL_MODEL.onnx]

Every file is written under OUT_DIR (which must exist and be empty) together
with OUT_DIR/MANIFEST.tsv, one line per case, tab-separated:

    FILE  EXPECT  RUN_INPUT  RUN_EXPECT  MAX_SECONDS  DESCRIPTION

FILE is relative to OUT_DIR. EXPECT says what `onnxc check FILE` and `onnxc
info FILE` must do:
    refused     loading fails: both exit 2 with "onnxc: error: " lines naming
                the file
    unrunnable  the file loads (info exits 0) but cannot run, which only
                shape inference finds (check exits 2, as above)
    loads       both exit 0
    either      random damage such as bit flips that may leave a valid
                model: exit 0 or a clean refusal, never a crash
RUN_INPUT is "-" or a .npy file, relative to OUT_DIR, for cases that must
also go through `onnxc run FILE -i RUN_INPUT`, whose outcome RUN_EXPECT gives
("refused", "loads" or "-" when not run). MAX_SECONDS bounds each command's
wall time.

The output is deterministic (fixed seeds, fixed byte layouts) except for the
absolute paths that point at OUT_DIR itself and the modification times
libhdf5 stamps on the HDF5 objects it edits. Protobuf framing that python's
protobuf library refuses to produce (wrong wire types, overlong varints, 100k
levels of nesting, embedded NULs) is written by hand with the helpers below;
everything else starts from onnx.helper models. tests/test_hostile.c runs it.

The corpus is split over three files: this one (framing, tensors, names,
attributes, structure, headers, nesting, amplification, external data),
hostile_extra.py (more of each, local functions, hostile .npy inputs) and
hostile_keras.py (Keras .h5 and .keras files; it compiles make_hostile_h5.c
with the system C compiler and pkg-config to edit HDF5 through libhdf5).
"""
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# --- hand-written protobuf wire format -------------------------------------


def varint(v):
    """Base-128 varint of v taken as unsigned 64-bit (negative ints wrap, as
    protobuf encodes int64)."""
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint((field << 3) | wire)


def f_varint(field, v):
    return key(field, 0) + varint(v)


def f_bytes(field, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return key(field, 2) + varint(len(payload)) + payload


# Field numbers of onnx.proto used below.
MODEL_IR, MODEL_OPSET, MODEL_GRAPH = 1, 8, 7
GRAPH_NODE, GRAPH_NAME, GRAPH_INIT, GRAPH_INPUT, GRAPH_OUTPUT = 1, 2, 5, 11, 12
NODE_IN, NODE_OUT, NODE_NAME, NODE_OP, NODE_ATTR = 1, 2, 3, 4, 5
ATTR_NAME, ATTR_I, ATTR_G, ATTR_TYPE = 1, 3, 6, 20
ATTR_TYPE_INT, ATTR_TYPE_GRAPH = 2, 5
TENSOR_DIMS, TENSOR_DTYPE, TENSOR_NAME, TENSOR_RAW = 1, 2, 8, 9
OPSET_DOMAIN, OPSET_VERSION = 1, 2
VI_NAME, VI_TYPE = 1, 2
TYPE_TENSOR, TYPE_SEQUENCE = 1, 4
SEQ_ELEM = 1

# --- base models -------------------------------------------------------------


def float_vi(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def base_graph(softmax_axis=None):
    """x[N,4] -> MatMul W[4,3] -> Add b[3] -> Relu -> Softmax -> y[N,3]."""
    rng = np.random.RandomState(7)
    w = numpy_helper.from_array(rng.uniform(-1, 1, (4, 3)).astype(np.float32), "W")
    b = numpy_helper.from_array(np.array([0.1, -0.2, 0.3], np.float32), "b")
    sm = helper.make_node("Softmax", ["r"], ["y"], name="softmax")
    if softmax_axis is not None:
        sm.attribute.append(helper.make_attribute("axis", softmax_axis))
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["xw"], name="matmul"),
        helper.make_node("Add", ["xw", "b"], ["z"], name="add"),
        helper.make_node("Relu", ["z"], ["r"], name="relu"),
        sm,
    ]
    return helper.make_graph(nodes, "base", [float_vi("x", ["N", 4])],
                             [float_vi("y", ["N", 3])], [w, b])


def make_model(graph, ir=7, opsets=(("", 13),)):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    m.ir_version = ir
    return m


def ser(model):
    return model.SerializeToString()


def relu_chain(n, reverse=False):
    nodes = [helper.make_node("Relu", ["t%d" % i], ["t%d" % (i + 1)]) for i in range(n)]
    if reverse:
        nodes.reverse()
    g = helper.make_graph(nodes, "chain", [float_vi("t0", ["N", 4])],
                          [float_vi("t%d" % n, ["N", 4])])
    return make_model(g)


def tensor_bytes(name, dtype, dims, raw=None, extra=b""):
    """A TensorProto by hand, so dims and data can disagree freely."""
    b = b"".join(f_varint(TENSOR_DIMS, d) for d in dims)
    if dtype is not None:
        b += f_varint(TENSOR_DTYPE, dtype)
    b += f_bytes(TENSOR_NAME, name)
    if raw is not None:
        b += f_bytes(TENSOR_RAW, raw)
    return b + extra


def graph_with_initializer(tensor):
    """Model bytes: the base model plus one extra initializer `c` (given as
    TensorProto bytes) consumed by Identity -> graph output c_out, so
    nothing is dead code. Appending to the graph field merges into it."""
    m = make_model(base_graph())
    m.graph.node.append(helper.make_node("Identity", ["c"], ["c_out"], name="use_c"))
    m.graph.output.append(helper.make_tensor_value_info("c_out", TensorProto.FLOAT, None))
    return ser(m) + f_bytes(MODEL_GRAPH, f_bytes(GRAPH_INIT, tensor))


def top_level_fields(data):
    """(start, end, field) of each top-level field of a well-formed message."""
    out, p = [], 0
    while p < len(data):
        start = p
        tag, p = read_varint(data, p)
        wire = tag & 7
        if wire == 0:
            _, p = read_varint(data, p)
        elif wire == 1:
            p += 8
        elif wire == 5:
            p += 4
        elif wire == 2:
            n, p = read_varint(data, p)
            p += n
        else:
            raise ValueError("unexpected wire type")
        out.append((start, p, tag >> 3))
    return out


def read_varint(data, p):
    v, shift = 0, 0
    while True:
        b = data[p]
        p += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, p


# --- the corpus --------------------------------------------------------------


class Corpus:
    def __init__(self, out):
        self.out = out
        self.lines = []
        self.names = set()

    def add(self, name, data, expect, desc, run_input="-", run_expect=None, max_s=10):
        assert name not in self.names, name
        self.names.add(name)
        path = os.path.join(self.out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if data is not None:
            with open(path, "wb") as f:
                f.write(data)
        if run_expect is None:
            run_expect = "-" if run_input == "-" else \
                "refused" if expect == "unrunnable" else expect
        self.lines.append("\t".join([name, expect, run_input, run_expect, str(max_s), desc]))

    def write_manifest(self):
        with open(os.path.join(self.out, "MANIFEST.tsv"), "w") as f:
            f.write("\n".join(self.lines) + "\n")


def truncations(c, real_path):
    """A real model cut at many offsets. The expected outcome is derived from
    the top-level layout: a cut that is not on a field boundary, or that
    drops the graph or the default-domain opset_import, must be refused."""
    with open(real_path, "rb") as f:
        data = f.read()
    fields = top_level_fields(data)
    boundaries = {0} | {end for _, end, _ in fields}

    def loads_when_cut(t):
        if t not in boundaries:
            return False
        kept = onnx.ModelProto()
        kept.ParseFromString(data[:t])
        return kept.HasField("graph") and any(o.domain in ("", "ai.onnx")
                                              for o in kept.opset_import)

    offsets = set(range(0, 12)) | {len(data) - 1, len(data) - 2}
    offsets |= {len(data) * k // 40 for k in range(1, 40)}
    for start, end, _ in fields:
        offsets |= {start + 1, start + 2, end - 1}
    for t in sorted(o for o in offsets if 0 <= o < len(data)):
        expect = "loads" if loads_when_cut(t) else "refused"
        c.add("trunc_%07d.onnx" % t, data[:t], expect,
              "real model truncated to %d of %d bytes" % (t, len(data)))


def bit_flips(c, small_path):
    """Single and multiple bit flips in a small real model; the result may
    still be a valid model, so any clean outcome is accepted."""
    with open(small_path, "rb") as f:
        data = f.read()
    rng = np.random.RandomState(2024)
    for i in range(30):
        b = bytearray(data)
        for _ in range(1 + i % 4):
            pos = int(rng.randint(0, len(b)))
            b[pos] ^= 1 << int(rng.randint(0, 8))
        c.add("flip_%02d.onnx" % i, bytes(b), "either", "bit flips in a small real model")


def framing(c):
    base = ser(make_model(base_graph()))
    for wire in (3, 4, 6, 7):
        c.add("wire%d_unknown_top.onnx" % wire, base + key(99, wire) + b"\x00" * 8, "refused",
              "top-level unknown field 99 with wire type %d" % wire)
        # Inside the graph (merged into it) and inside a node of it.
        bad_graph = f_bytes(MODEL_GRAPH, key(98, wire) + b"\x01\x02")
        c.add("wire%d_in_graph.onnx" % wire, base + bad_graph, "refused",
              "graph field 98 with wire type %d" % wire)
        bad_node = f_bytes(MODEL_GRAPH, f_bytes(GRAPH_NODE, f_bytes(NODE_OP, "Relu") +
                                                key(NODE_NAME, wire) + b"\x00\x00"))
        c.add("wire%d_in_node.onnx" % wire, base + bad_node, "refused",
              "node name with wire type %d" % wire)
    c.add("wire_mismatch_ir.onnx", base + f_bytes(MODEL_IR, b"\x07"), "refused",
          "ir_version sent as length-delimited")
    c.add("wire_mismatch_graph.onnx", base + f_varint(MODEL_GRAPH, 5), "refused",
          "graph sent as a varint")
    c.add("wire_fixed32_for_int.onnx", base + key(MODEL_IR, 5) + b"\x07\x00\x00\x00", "refused",
          "ir_version sent as fixed32")
    c.add("field_zero.onnx", base + b"\x00\x01", "refused", "field number 0")
    c.add("field_too_big.onnx", base + varint((1 << 29) << 3) + b"\x01", "refused",
          "field number 2^29 (above the protobuf maximum)")
    # Overlong varints.
    c.add("varint_11_bytes_value.onnx", base + key(MODEL_IR, 0) + b"\x87" + b"\x80" * 9 + b"\x00",
          "refused", "ir_version varint of 11 bytes")
    c.add("varint_10th_byte_big.onnx", base + key(MODEL_IR, 0) + b"\xff" * 9 + b"\x7f", "refused",
          "ir_version varint whose 10th byte overflows 64 bits")
    c.add("varint_11_bytes_tag.onnx", base + b"\x88" + b"\x80" * 10 + b"\x00\x07", "refused",
          "field tag varint of 12 bytes")
    c.add("varint_unterminated.onnx", base + key(MODEL_IR, 0) + b"\x80\x80\x80", "refused",
          "varint that runs off the end")
    # Length prefixes of 2^31 and beyond.
    for bits in (31, 32, 63):
        c.add("length_2pow%d.onnx" % bits, base + key(99, 2) + varint(1 << bits) + b"abcd",
              "refused", "unknown field with length prefix 2^%d and 4 bytes of data" % bits)
    c.add("length_max.onnx", base + key(99, 2) + varint((1 << 64) - 1) + b"abcd", "refused",
          "length prefix 2^64-1")
    c.add("length_wraps32.onnx", base + key(MODEL_GRAPH, 2) + varint((1 << 32) + 4) +
          f_bytes(GRAPH_NAME, "ab"), "refused",
          "graph length 2^32+4 followed by 4 real bytes (a 32-bit reader sees 4)")
    c.add("graph_len_past_end.onnx", base + key(MODEL_GRAPH, 2) + varint(1000) + b"\x0a\x00",
          "refused", "graph length prefix past the end of the file")
    # Not ONNX at all.
    c.add("empty.onnx", b"", "refused", "empty file")
    c.add("text.onnx", b"hello, this is not a model\n", "refused", "a text file")
    c.add("zeros.onnx", b"\x00" * 4096, "refused", "4 kB of zero bytes")
    c.add("ff.onnx", b"\xff" * 4096, "refused", "4 kB of 0xff bytes")
    c.add("fake_hdf5.onnx", b"\x89HDF\r\n\x1a\n" + b"\x00" * 100 + b"junk" * 100, "refused",
          "HDF5 signature followed by garbage (routed to the Keras reader)")
    c.add("fake_zip.onnx", b"PK\x03\x04" + b"\x14\x00" * 13 + b"junk" * 50, "refused",
          "zip signature followed by garbage (routed to the Keras reader)")


def tensors(c):
    def init_case(name, tensor, expect, desc):
        c.add(name, graph_with_initializer(tensor), expect, desc)

    f4 = struct.pack("<f", 1.5)
    init_case("dim_negative.onnx", tensor_bytes("c", 1, [-1], f4), "refused",
              "initializer dims [-1] with 4 bytes of data")
    init_case("dims_two_negatives.onnx", tensor_bytes("c", 1, [-2, -2], f4 * 4), "refused",
              "dims [-2,-2] (product +4) with 16 bytes of data")
    init_case("dims_wrap64_numel.onnx", tensor_bytes("c", 1, [1 << 32, 1 << 32], b""), "refused",
              "dims [2^32,2^32]: element count wraps to 0 in 64 bits, raw_data empty")
    init_case("dims_wrap64_bytes.onnx", tensor_bytes("c", 1, [1 << 62], b""), "refused",
              "dims [2^62] float: byte count wraps to 0 in 64 bits, raw_data empty")
    init_case("dims_wrap32_numel.onnx", tensor_bytes("c", 1, [1 << 16, 1 << 16], b""), "refused",
              "dims [2^16,2^16]: element count wraps to 0 in 32 bits, raw_data empty")
    init_case("dims_wrap32_bytes.onnx", tensor_bytes("c", 1, [1 << 30], b""), "refused",
              "dims [2^30] float: byte count wraps to 0 in 32 bits, raw_data empty")
    init_case("dims_wrap32_one.onnx", tensor_bytes("c", 1, [(1 << 32) + 1], f4), "refused",
              "dims [2^32+1] float with one element of data (a 32-bit count sees 1)")
    init_case("dims_signed_overflow.onnx", tensor_bytes("c", 1, [3037000500, 3037000500], f4),
              "refused", "dims whose product passes INT64_MAX")
    init_case("dims_int64_min.onnx", tensor_bytes("c", 1, [-(1 << 63)], b""), "refused",
              "dims [INT64_MIN]")
    init_case("dims_zero_huge.onnx", tensor_bytes("c", 1, [0, 1 << 40], b""), "loads",
              "dims [0, 2^40]: an empty tensor (valid)")
    typed = tensor_bytes("c", 1, [2], None, b"".join(key(4, 5) + f4 for _ in range(2)))
    init_case("typed_wrap32.onnx", tensor_bytes("c", 1, [(1 << 32) + 2], None,
                                                b"".join(key(4, 5) + f4 for _ in range(2))),
              "refused", "dims [2^32+2] with two float_data values")
    init_case("typed_ok.onnx", typed, "loads", "dims [2] with two unpacked float_data values")
    init_case("both_raw_and_typed.onnx",
              tensor_bytes("c", 1, [2], f4 * 2, key(4, 5) + f4 + key(4, 5) + f4), "refused",
              "tensor with raw_data and float_data")
    init_case("no_data.onnx", tensor_bytes("c", 1, [2], None), "refused",
              "tensor dims [2] with no data at all")
    init_case("dtype_unknown.onnx", tensor_bytes("c", 99, [1], f4), "refused", "data_type 99")
    init_case("dtype_undefined.onnx", tensor_bytes("c", 0, [1], f4), "refused", "data_type 0")
    init_case("dtype_missing.onnx", tensor_bytes("c", None, [1], f4), "refused",
              "data_type absent")
    init_case("dtype_negative.onnx", tensor_bytes("c", -3, [1], f4), "refused", "data_type -3")
    init_case("dtype_vs_typed.onnx", tensor_bytes("c", 7, [2], None,
                                                  key(4, 5) + f4 + key(4, 5) + f4), "refused",
              "data_type int64 with float_data")
    init_case("dtype_vs_raw_size.onnx", tensor_bytes("c", 1, [2], b"\x00" * 6), "refused",
              "float dims [2] with 6 bytes of raw_data")
    init_case("int8_out_of_range.onnx", tensor_bytes("c", 3, [1], None, f_varint(5, 300)),
              "refused", "int8 tensor whose int32_data holds 300")
    init_case("rank9_initializer.onnx", tensor_bytes("c", 1, [1] * 9, f4), "refused",
              "initializer of rank 9")
    init_case("string_initializer.onnx", tensor_bytes("c", 8, [1], None, f_bytes(6, "hi")),
              "refused", "string initializer (not supported)")
    init_case("segmented.onnx", tensor_bytes("c", 1, [1], f4, f_bytes(3, f_varint(1, 0) +
                                                                   f_varint(2, 1))),
              "refused", "segmented tensor")
    # Rank 9 graph input: cannot be represented, so check must refuse it.
    g = base_graph()
    g.input.append(float_vi("big", [1] * 9))
    g.node.append(helper.make_node("Relu", ["big"], ["big_out"], name="relu9"))
    g.output.append(float_vi("big_out", [1] * 9))
    c.add("rank9_input.onnx", ser(make_model(g)), "refused", "graph input of rank 9 used by Relu")


def names(c):
    base = ser(make_model(base_graph()))
    # Embedded NUL: a node output "r\0evil" would be read as "r" by C string code.
    node = f_bytes(NODE_IN, "y") + f_bytes(NODE_OUT, "r\x00evil") + f_bytes(NODE_OP, "Relu")
    c.add("nul_in_output_name.onnx", base + f_bytes(MODEL_GRAPH, f_bytes(GRAPH_NODE, node)),
          "refused", "node output name with an embedded NUL")
    c.add("nul_in_graph_name.onnx", base + f_bytes(MODEL_GRAPH, f_bytes(GRAPH_NAME, "a\x00b")),
          "refused", "graph name with an embedded NUL")
    c.add("nul_in_producer.onnx", base + f_bytes(2, "onnx\x00c"), "refused",
          "producer_name with an embedded NUL")
    long_name = "n" * (1 << 20)
    g = base_graph()
    for n in g.node:
        for i, s in enumerate(n.input):
            if s == "r":
                n.input[i] = long_name
        for i, s in enumerate(n.output):
            if s == "r":
                n.output[i] = long_name
    c.add("long_name_1mb.onnx", ser(make_model(g)), "loads",
          "a 1 MB tensor name, used consistently")
    g = base_graph()
    g.node[3].input[0] = long_name
    c.add("long_name_undefined.onnx", ser(make_model(g)), "refused",
          "a 1 MB tensor name that nothing defines")
    g = base_graph()
    g.node[0].name = "\xe9t\xe9 \u6a21\u578b"
    c.add("utf8_names.onnx", ser(make_model(g)), "loads", "non-ASCII UTF-8 node name")
    c.add("invalid_utf8_name.onnx", base + f_bytes(MODEL_GRAPH, f_bytes(GRAPH_NAME, b"\xff\xfe")),
          "either", "graph name that is not UTF-8")


def attributes(c):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(os.path.join(c.out, "softmax_x.npy"), x)

    for label, axis in (("2pow32", 1 << 32), ("2pow32_plus1", (1 << 32) + 1),
                        ("int64_max", (1 << 63) - 1), ("int64_min", -(1 << 63)),
                        ("2pow31", 1 << 31), ("minus_2pow32", -(1 << 32))):
        g = helper.make_graph(
            [helper.make_node("Softmax", ["x"], ["y"], name="softmax", axis=axis)], "sm",
            [float_vi("x", [2, 3])], [float_vi("y", [2, 3])])
        c.add("softmax_axis_%s.onnx" % label, ser(make_model(g)), "unrunnable",
              "Softmax axis = %d (must not be narrowed to int)" % axis, run_input="softmax_x.npy")
    g = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], name="softmax", axis=1)],
                          "sm", [float_vi("x", [2, 3])], [float_vi("y", [2, 3])])
    c.add("softmax_axis_ok.onnx", ser(make_model(g)), "loads", "Softmax axis = 1 (control)",
          run_input="softmax_x.npy")
    others = [
        ("flatten_axis", helper.make_node("Flatten", ["x"], ["y"], axis=1 << 32)),
        ("concat_axis", helper.make_node("Concat", ["x", "x"], ["y"], axis=(1 << 32) + 1)),
        ("transpose_perm", helper.make_node("Transpose", ["x"], ["y"], perm=[(1 << 32) + 1, 0])),
        ("gather_axis", helper.make_node("Gather", ["x", "idx"], ["y"], axis=1 << 32)),
        ("reducesum_axes", helper.make_node("ReduceSum", ["x"], ["y"], axes=[1 << 32])),
    ]
    for label, node in others:
        inits = []
        if "idx" in node.input:
            inits.append(numpy_helper.from_array(np.array([0], np.int64), "idx"))
        g = helper.make_graph([node], label, [float_vi("x", [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              inits)
        opset = 11 if label == "reducesum_axes" else 13
        # Transpose checks perm when loading; the others need the input rank.
        c.add("attr_%s_2pow32.onnx" % label, ser(make_model(g, opsets=(("", opset),))),
              "refused" if label == "transpose_perm" else "unrunnable",
              "%s with an integer attribute of 2^32 or more" % node.op_type,
              run_input="softmax_x.npy")
    # Wrong attribute type: axis as a float.
    g = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], axis=1.5)], "sm",
                          [float_vi("x", [2, 3])], [float_vi("y", [2, 3])])
    c.add("softmax_axis_float.onnx", ser(make_model(g)), "refused", "Softmax axis given as FLOAT")


def structure(c):
    def graph_of(nodes, inputs=None, outputs=None, inits=()):
        return helper.make_graph(nodes, "g", inputs or [float_vi("x", ["N", 4])],
                                 outputs or [float_vi("y", ["N", 4])], list(inits))

    node = helper.make_node
    c.add("cycle.onnx", ser(make_model(graph_of([
        node("Add", ["x", "b"], ["a"], name="A"), node("Relu", ["a"], ["b"], name="B"),
        node("Relu", ["a"], ["y"], name="C")]))), "refused", "two nodes in a cycle")
    c.add("self_loop.onnx", ser(make_model(graph_of([
        node("Add", ["x", "a"], ["a"], name="A"), node("Relu", ["a"], ["y"])]))), "refused",
        "a node that consumes its own output")
    c.add("dup_node_output.onnx", ser(make_model(graph_of([
        node("Relu", ["x"], ["a"]), node("Relu", ["x"], ["a"]), node("Relu", ["a"], ["y"])]))),
        "refused", "two nodes write the same tensor")
    c.add("dup_input.onnx", ser(make_model(graph_of(
        [node("Relu", ["x"], ["y"])], inputs=[float_vi("x", ["N", 4]), float_vi("x", ["N", 4])]))),
        "refused", "graph input listed twice")
    c.add("output_shadows_input.onnx", ser(make_model(graph_of([
        node("Relu", ["x"], ["x"]), node("Relu", ["x"], ["y"])]))), "refused",
        "node output named like a graph input")
    w = numpy_helper.from_array(np.ones(4, np.float32), "w")
    c.add("dup_initializer.onnx", ser(make_model(graph_of(
        [node("Add", ["x", "w"], ["y"])], inits=[w, w]))), "refused",
        "initializer listed twice")
    c.add("output_unproduced.onnx", ser(make_model(graph_of(
        [node("Relu", ["x"], ["a"])], outputs=[float_vi("y", ["N", 4])]))), "refused",
        "graph output that nothing produces")
    c.add("no_outputs.onnx", ser(make_model(helper.make_graph(
        [node("Relu", ["x"], ["a"])], "g", [float_vi("x", ["N", 4])], []))), "refused",
        "graph without outputs")
    c.add("undefined_input.onnx", ser(make_model(graph_of([node("Add", ["x", "ghost"], ["y"])]))),
          "refused", "node input that nothing defines")
    c.add("empty_op_type.onnx", ser(make_model(graph_of([node("", ["x"], ["y"])]))), "refused",
          "node without op_type")
    c.add("unknown_domain.onnx", ser(make_model(graph_of(
        [node("Relu", ["x"], ["y"], domain="com.example")]))), "refused",
        "node in a domain missing from opset_import")
    c.add("no_graph.onnx",
          f_varint(MODEL_IR, 7) + f_bytes(MODEL_OPSET, f_varint(OPSET_VERSION, 13)),
          "refused", "model without a graph")
    c.add("wrong_arity.onnx", ser(make_model(graph_of([node("Relu", ["x", "x"], ["y"])]))),
          "refused", "Relu with two inputs")


def header(c):
    g = base_graph()
    for ir in (0, 1, 2, 12, 100, -1, 1 << 62):
        c.add("ir_%s.onnx" % str(ir).replace("-", "minus"), ser(make_model(g, ir=ir)), "refused",
              "ir_version %d" % ir)
    m = make_model(g)
    m.ClearField("ir_version")
    c.add("ir_missing.onnx", ser(m), "refused", "ir_version absent")
    for ir in (3, 11):
        gg = base_graph()
        if ir == 3:  # IR 3: initializers must also be graph inputs
            gg.input.extend([float_vi("W", [4, 3]), float_vi("b", [3])])
        c.add("ir_%d_ok.onnx" % ir, ser(make_model(gg, ir=ir)), "loads",
              "ir_version %d (edge of the range)" % ir)
    m = make_model(g)
    del m.opset_import[:]
    c.add("opset_missing.onnx", ser(m), "refused", "no opset_import")
    c.add("opset_dup.onnx", ser(make_model(g, opsets=(("", 13), ("", 13)))), "refused",
          "default domain imported twice")
    c.add("opset_dup_alias.onnx", ser(make_model(g, opsets=(("", 13), ("ai.onnx", 13)))),
          "refused", "default domain imported as '' and as 'ai.onnx'")
    for v in (0, -1, 1 << 40, 1000):
        c.add("opset_%s.onnx" % str(v).replace("-", "minus"),
              ser(make_model(g, opsets=(("", v),))), "refused", "ai.onnx opset %d" % v)
    c.add("opset_custom_absurd.onnx", ser(make_model(g, opsets=(("", 13), ("com.x", 1 << 40)))),
          "refused", "custom domain opset 2^40")
    op = onnx.OperatorSetIdProto()
    op.domain = ""
    m = make_model(g)
    del m.opset_import[:]
    m.opset_import.append(op)
    c.add("opset_no_version.onnx", ser(m), "refused", "opset_import without a version")


def nested_if_graph(depth):
    """GraphProto bytes: If nodes whose then_branch holds the next graph,
    `depth` levels. Built from the inside out as a list of prefixes, so the
    cost stays linear (python protobuf cannot build or even parse 100k)."""
    core = f_bytes(GRAPH_NAME, "leaf")
    # Lengths from the innermost graph outwards.
    prefixes = []
    inner_len = len(core)
    for _ in range(depth):
        # attribute = name "then_branch", type GRAPH, g = <inner graph>
        attr_head = f_bytes(ATTR_NAME, "then_branch") + f_varint(ATTR_TYPE, ATTR_TYPE_GRAPH) + \
            key(ATTR_G, 2) + varint(inner_len)
        attr_len = len(attr_head) + inner_len
        node_head = f_bytes(NODE_IN, "c") + f_bytes(NODE_OUT, "o") + f_bytes(NODE_OP, "If") + \
            key(NODE_ATTR, 2) + varint(attr_len)
        node_len = len(node_head) + attr_len
        graph_head = key(GRAPH_NODE, 2) + varint(node_len)
        prefixes.append(graph_head + node_head + attr_head)
        inner_len = len(graph_head) + node_len
    prefixes.reverse()
    return b"".join(prefixes) + core


def nesting(c):
    """Deep nesting: subgraphs (where protobuf-c would recurse once per level)
    and types, far past the limit, and subgraphs just within it."""
    depth = 100000
    head = f_varint(MODEL_IR, 7) + f_bytes(MODEL_OPSET, f_varint(OPSET_VERSION, 13))
    # The top graph feeds the If nodes' condition and declares their output.
    top = f_bytes(GRAPH_INPUT, f_bytes(VI_NAME, "c")) + f_bytes(GRAPH_OUTPUT, f_bytes(VI_NAME, "o"))
    c.add("nested_if_100k.onnx", head + f_bytes(MODEL_GRAPH, nested_if_graph(depth) + top),
          "refused", "If subgraphs nested %d deep" % depth)
    c.add("nested_if_30.onnx", head + f_bytes(MODEL_GRAPH, nested_if_graph(30) + top),
          "refused", "If subgraphs nested 30 deep (beyond max_graph_depth 16)")
    c.add("nested_if_12.onnx", head + f_bytes(MODEL_GRAPH, nested_if_graph(12) + top),
          "unrunnable", "If subgraphs nested 12 deep: loads (within max_graph_depth), "
          "but onnxc has no If")
    # TypeProto sequence(sequence(...)) 100,000 deep in a graph input's type.
    t = f_bytes(TYPE_TENSOR, f_varint(1, 1))
    parts = []
    n = len(t)
    for _ in range(depth):
        inner = key(SEQ_ELEM, 2) + varint(n)
        outer = key(TYPE_SEQUENCE, 2) + varint(len(inner) + n)
        parts.append(outer + inner)
        n += len(inner) + len(outer)
    parts.reverse()
    ty = b"".join(parts) + t
    vi = f_bytes(VI_NAME, "deep") + key(VI_TYPE, 2) + varint(len(ty)) + ty
    base = ser(make_model(base_graph()))
    c.add("nested_type_100k.onnx", base + f_bytes(MODEL_GRAPH, f_bytes(GRAPH_INPUT, vi)),
          "refused", "sequence types nested %d deep in a graph input" % depth)
    # The same depth inside an unknown field is opaque bytes: a valid model.
    c.add("nested_in_unknown_field.onnx", base + f_bytes(99, ty), "loads",
          "100k-deep nesting inside an unknown top-level field (opaque, kept verbatim)")


def amplification(c):
    """Tiny wire encodings that unpack into far larger structures: empty
    messages cost 2 bytes each in the file and 50-250 bytes in memory."""
    base = ser(make_model(base_graph()))
    empty_attr = key(NODE_ATTR, 2) + b"\x00"
    node = f_bytes(NODE_IN, "y") + f_bytes(NODE_OUT, "q") + f_bytes(NODE_OP, "Relu") + \
        empty_attr * (1 << 20)
    c.add("amplify_attributes.onnx", base + f_bytes(MODEL_GRAPH, f_bytes(GRAPH_NODE, node)),
          "refused", "2 MB of empty attributes on one node (~270 bytes each unpacked)", max_s=5)
    empty_init = key(GRAPH_INIT, 2) + b"\x00"
    empty_vi = key(13, 2) + b"\x00"  # GraphProto.value_info
    c.add("amplify_initializers.onnx", base + f_bytes(MODEL_GRAPH, empty_init * (1 << 20)),
          "refused", "2 MB of empty initializers (~250 bytes each unpacked)", max_s=5)
    c.add("amplify_value_info.onnx", base + f_bytes(MODEL_GRAPH, empty_vi * (4 << 20)),
          "refused", "8 MB of empty value_info entries (~90 bytes each unpacked)", max_s=5)


def constants(c):
    """Tensors inside attributes (Constant, ConstantOfShape) and shapes that
    only exist once values are known: checked with the same care."""
    def graph(nodes, inputs=(), inits=()):
        return helper.make_graph(nodes, "g", list(inputs),
                                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                                 list(inits))

    def const_case(name, tensor, desc):
        g = graph([helper.make_node("Constant", [], ["y"], value=tensor)])
        c.add("const_%s.onnx" % name, ser(make_model(g)), "refused", desc)

    t = helper.make_tensor("v", TensorProto.FLOAT, [3], [1, 2, 3])
    t.dims[0] = -1
    const_case("negative_dim", t, "Constant value with dims [-1]")
    t = helper.make_tensor("v", TensorProto.FLOAT, [1], [1])
    t.dims[0] = 1 << 62
    t.ClearField("float_data")
    t.raw_data = b""
    const_case("bytes_wrap", t, "Constant value dims [2^62] float, no data (bytes wrap to 0)")
    const_case("rank9", helper.make_tensor("v", TensorProto.FLOAT, [1] * 9, [1]),
               "Constant value of rank 9")
    t = helper.make_tensor("v", TensorProto.FLOAT, [1], [1])
    t.data_type = 99
    const_case("dtype99", t, "Constant value with data_type 99")
    t = helper.make_tensor("v", TensorProto.FLOAT, [1], [1])
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", "../outside.bin"
    const_case("external", t, "Constant value with external data '../outside.bin'")
    t = helper.make_tensor("v", TensorProto.FLOAT, [2], [1, 2])
    t.raw_data = struct.pack("<2f", 1, 2)
    const_case("raw_and_typed", t, "Constant value with raw_data and float_data")
    sparse = helper.make_sparse_tensor(helper.make_tensor("v", TensorProto.FLOAT, [1], [1]),
                                       helper.make_tensor("i", TensorProto.INT64, [1], [0]), [4])
    c.add("const_sparse.onnx", ser(make_model(graph(
        [helper.make_node("Constant", [], ["y"], sparse_value=sparse)]))), "refused",
        "Constant with sparse_value")
    for label, dims in (("16gb", [1 << 30, 4]), ("4tb", [1 << 40]), ("overflow", [1 << 62, 4])):
        shp = numpy_helper.from_array(np.array(dims, np.int64), "shp")
        c.add("cos_%s.onnx" % label, ser(make_model(graph(
            [helper.make_node("ConstantOfShape", ["shp"], ["y"])], inits=[shp]))), "unrunnable",
            "ConstantOfShape to %s" % dims)
        c.add("expand_%s.onnx" % label, ser(make_model(graph(
            [helper.make_node("Expand", ["x", "shp"], ["y"])], [float_vi("x", [1])], [shp]))),
            "unrunnable", "Expand to %s" % dims)
        c.add("reshape_%s.onnx" % label, ser(make_model(graph(
            [helper.make_node("Reshape", ["x", "shp"], ["y"])], [float_vi("x", [2, 3])], [shp]))),
            "unrunnable", "Reshape [2,3] to %s" % dims)
    t = helper.make_tensor("v", TensorProto.FLOAT, [2], [1, 2])
    shp = numpy_helper.from_array(np.array([3], np.int64), "shp")
    c.add("cos_value_two_elems.onnx", ser(make_model(graph(
        [helper.make_node("ConstantOfShape", ["shp"], ["y"], value=t)], inits=[shp]))), "refused",
        "ConstantOfShape value with two elements")
    ax = numpy_helper.from_array(np.arange(8, dtype=np.int64), "ax")
    c.add("unsqueeze_rank10.onnx", ser(make_model(graph(
        [helper.make_node("Unsqueeze", ["x", "ax"], ["y"])], [float_vi("x", [2, 3])], [ax]))),
        "unrunnable", "Unsqueeze to rank 10")
    c.add("input_dims_overflow.onnx", ser(make_model(graph(
        [helper.make_node("Relu", ["x"], ["y"])], [float_vi("x", [1 << 62, 1 << 62])]))),
        "unrunnable", "graph input dims whose product overflows")
    idx = numpy_helper.from_array(np.array([1 << 40], np.int64), "idx")
    c.add("gather_index_oob.onnx", ser(make_model(graph(
        [helper.make_node("Gather", ["x", "idx"], ["y"])], [float_vi("x", [2, 3])], [idx]))),
        "loads", "Gather with a constant index of 2^40: valid file, refused when run",
        run_input="softmax_x.npy", run_expect="refused")


def keras_damage(c, real_dir):
    """Keras files go through libhdf5 / libzip: truncated and bit-flipped."""
    for src, ext in (("keras-2.4.0_dig94_keras_mnist.h5", "h5"),
                     ("keras-3.6.0_Carvas91_mnist_model.keras", "keras")):
        with open(os.path.join(real_dir, src), "rb") as f:
            data = f.read()
        for t in (8, 64, 512, 4096, len(data) // 3, len(data) - 100):
            c.add("keras_trunc_%d.%s" % (t, ext), data[:t], "refused",
                  "%s truncated to %d bytes" % (src, t))
        rng = np.random.RandomState(11)
        for i in range(8):
            b = bytearray(data)
            for _ in range(3):
                limit = 8192 if i % 2 else len(b)
                b[int(rng.randint(0, limit))] ^= 1 << int(rng.randint(0, 8))
            c.add("keras_flip_%d.%s" % (i, ext), bytes(b), "either", "bit flips in " + src)


def hash_flood(c):
    """130k graph input names whose FNV-1a hashes agree in the low 20 bits (the
    slot of an unseeded open-addressing table): found block by block, since
    those bits depend only on the low bits of the running state."""
    bits = 20
    mask = (1 << bits) - 1
    prime = 1099511628211 & mask

    def step(h, block):
        for b in block:
            h = ((h ^ b) * prime) & mask
        return h

    rng = np.random.RandomState(99)
    h = step(1469598103934665603 & mask, b"v")
    pairs = []
    while len(pairs) < 17:
        seen = {}
        while True:
            block = bytes(int(b) for b in rng.randint(97, 123, 4))
            nxt = step(h, block)
            if nxt in seen and seen[nxt] != block:
                pairs.append((seen[nxt], block))
                h = nxt
                break
            seen[nxt] = block
    ty = f_bytes(VI_TYPE, f_bytes(TYPE_TENSOR, f_varint(1, 1) +
                                  f_bytes(2, f_bytes(1, f_varint(1, 1)))))
    names = [b"v" + b"".join(pairs[j][(i >> j) & 1] for j in range(17)) for i in range(1 << 17)]
    inputs = b"".join(f_bytes(GRAPH_INPUT, f_bytes(VI_NAME, n) + ty) for n in names)
    node = f_bytes(NODE_IN, names[0]) + f_bytes(NODE_OUT, "y") + f_bytes(NODE_OP, "Relu")
    graph = f_bytes(GRAPH_NODE, node) + inputs + \
        f_bytes(GRAPH_OUTPUT, f_bytes(VI_NAME, "y") + ty)
    head = f_varint(MODEL_IR, 7) + f_bytes(MODEL_OPSET, f_varint(OPSET_VERSION, 13))
    c.add("hash_flood_131k.onnx", head + f_bytes(MODEL_GRAPH, graph), "loads",
          "131,072 input names with colliding FNV-1a low bits", max_s=5)
    # 100k opset_import entries: quadratic duplicate checks would take minutes.
    base = ser(make_model(base_graph()))
    opsets = b"".join(f_bytes(MODEL_OPSET, f_bytes(OPSET_DOMAIN, "d%d" % i) +
                              f_varint(OPSET_VERSION, 1)) for i in range(100000))
    c.add("opsets_100k.onnx", base + opsets, "refused", "100,000 opset_import entries", max_s=5)


def big_graphs(c):
    c.add("relu_chain_100k.onnx", ser(relu_chain(100000)), "loads",
          "100,000 Relu nodes in a chain", max_s=5)
    c.add("relu_chain_100k_reversed.onnx", ser(relu_chain(100000, reverse=True)), "loads",
          "100,000 Relu nodes in a chain, listed last to first", max_s=5)


def odd_but_valid(c):
    g = base_graph()
    nodes = list(g.node)
    del g.node[:]
    g.node.extend([nodes[3], nodes[1], nodes[0], nodes[2]])
    c.add("unsorted_nodes.onnx", ser(make_model(g)), "loads", "nodes not in topological order")
    g = base_graph()
    g.input.extend([float_vi("W", [4, 3]), float_vi("b", [3])])
    c.add("inits_as_inputs_ir4.onnx", ser(make_model(g, ir=4)), "loads",
          "initializers also listed as graph inputs (IR 4: overridable defaults)")
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "sym",
                          [float_vi("x", ["batch", "feat"])], [float_vi("y", ["unk__7", "s77"])])
    c.add("symbolic_dims_renamed.onnx", ser(make_model(g)), "loads",
          "symbolic dims named differently on input and output")
    m = make_model(base_graph())
    m.doc_string = ""
    m.graph.doc_string = ""
    for n in m.graph.node:
        n.doc_string = ""
    data = ser(m)
    # Empty strings are normally omitted; write them explicitly as well.
    data += f_bytes(6, b"") + f_bytes(MODEL_GRAPH, f_bytes(10, b""))
    c.add("empty_doc_strings.onnx", data, "loads", "empty doc_strings written explicitly")
    # Unknown fields: top level, in the graph, in a node, in a tensor.
    node = onnx.NodeProto()
    node.ParseFromString(ser(base_graph().node[2]) + f_varint(77, 5) + f_bytes(78, "x"))
    g = base_graph()
    g.node[2].CopyFrom(node)
    t = onnx.TensorProto()
    t.ParseFromString(g.initializer[1].SerializeToString() + f_varint(99, 1))
    g.initializer[1].CopyFrom(t)
    data = ser(make_model(g)) + f_varint(99, 42) + f_bytes(98, b"\x00\xff") + \
        key(97, 1) + b"\x00" * 8 + key(96, 5) + b"\x00" * 4 + \
        f_bytes(MODEL_GRAPH, f_varint(99, 1))
    c.add("unknown_fields.onnx", data, "loads", "unknown fields at every level")
    base = ser(make_model(base_graph()))
    c.add("varint_nonminimal.onnx", base + key(MODEL_IR, 0) + b"\x87\x80\x80\x80\x00", "loads",
          "ir_version 7 in a 5-byte (non-minimal) varint")
    c.add("ir_repeated_last_wins.onnx", f_varint(MODEL_IR, 99) + base, "loads",
          "ir_version written twice (99, then 7): the last one counts")
    fields = top_level_fields(base)
    reordered = b"".join(base[s:e] for s, e, f in fields if f == MODEL_GRAPH) + \
        b"".join(base[s:e] for s, e, f in fields if f != MODEL_GRAPH)
    c.add("graph_first.onnx", reordered, "loads", "graph written before ir_version and opsets")
    # Packed dims in an initializer (proto2 allows either encoding).
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "W")
    packed = f_bytes(TENSOR_DIMS, varint(4) + varint(3)) + f_varint(TENSOR_DTYPE, 1) + \
        f_bytes(TENSOR_NAME, "W") + f_bytes(TENSOR_RAW, w.raw_data)
    g = base_graph()
    del g.initializer[0]
    data = ser(make_model(g)) + f_bytes(MODEL_GRAPH, f_bytes(GRAPH_INIT, packed))
    c.add("packed_dims.onnx", data, "loads", "initializer dims in packed encoding")
    c.add("identity_graph.onnx", ser(make_model(helper.make_graph(
        [], "id", [float_vi("x", [2, 3])], [float_vi("x", [2, 3])]))), "loads",
        "no nodes: the graph output is the graph input", run_input="softmax_x.npy")
    c.add("ops_unused_domain.onnx", ser(make_model(base_graph(),
                                                   opsets=(("", 13), ("com.unused", 1)))),
          "loads", "an extra opset_import for a domain no node uses")


def external(c):
    """External data: the models live in ext/, the honest weights in
    ext/weights.bin; decoys sit one level up, outside the model's folder."""
    ext = os.path.join(c.out, "ext")
    os.makedirs(os.path.join(ext, "sub"), exist_ok=True)
    os.makedirs(os.path.join(c.out, "outside_dir"), exist_ok=True)
    w = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    raw = w.tobytes()
    with open(os.path.join(ext, "weights.bin"), "wb") as f:
        f.write(b"\x00" * 16 + raw)  # weights at offset 16
    with open(os.path.join(ext, "exact.bin"), "wb") as f:
        f.write(raw)
    with open(os.path.join(c.out, "outside.bin"), "wb") as f:
        f.write(b"\x00" * 16 + raw)
    with open(os.path.join(c.out, "outside_dir", "weights.bin"), "wb") as f:
        f.write(b"\x00" * 16 + raw)
    os.symlink("../outside.bin", os.path.join(ext, "link_out.bin"))
    os.symlink("../outside_dir", os.path.join(ext, "linkdir"))
    os.symlink("/dev/zero", os.path.join(ext, "zero.bin"))
    os.symlink("weights.bin", os.path.join(ext, "link_in.bin"))
    os.mkfifo(os.path.join(ext, "fifo.bin"))
    os.mkdir(os.path.join(ext, "adir.bin"))

    def model(entries, extra_raw=False, location_field=True):
        g = base_graph()
        t = g.initializer[0]
        t.ClearField("raw_data")
        if extra_raw:
            t.raw_data = raw
        if location_field:
            t.data_location = TensorProto.EXTERNAL
        for k, v in entries:
            e = t.external_data.add()
            e.key = k
            e.value = v
        return ser(make_model(g))

    def case(name, entries, expect, desc, **kw):
        c.add("ext/" + name + ".onnx", model(entries, **kw), expect, desc)

    L, O, N = "location", "offset", "length"
    case("ok", [(L, "weights.bin"), (O, "16"), (N, "48")], "loads",
         "external data with offset and length")
    case("ok_no_length", [(L, "exact.bin")], "loads",
         "external data without offset and length: the whole file")
    case("dotdot_inside", [(L, "sub/../weights.bin")], "refused",
         "location with '..' that stays inside (refused: any '..')")
    case("ok_symlink_inside", [(L, "link_in.bin"), (O, "16"), (N, "48")], "loads",
         "symlink to a file inside the model folder")
    case("dotdot", [(L, "../outside.bin"), (O, "16"), (N, "48")], "refused",
         "location '../outside.bin' (exists)")
    case("dotdot_backslash", [(L, "..\\outside.bin"), (O, "16"), (N, "48")], "refused",
         "location '..\\outside.bin'")
    case("absolute", [(L, os.path.join(os.path.abspath(c.out), "outside.bin")), (O, "16"),
                      (N, "48")], "refused", "absolute location of an existing file")
    case("symlink_file_out", [(L, "link_out.bin"), (O, "16"), (N, "48")], "refused",
         "symlinked file pointing outside the model folder")
    case("symlink_dir_out", [(L, "linkdir/weights.bin"), (O, "16"), (N, "48")], "refused",
         "file under a symlinked folder pointing outside")
    case("fifo", [(L, "fifo.bin"), (O, "0"), (N, "48")], "refused", "a FIFO (must not hang)")
    case("dev_zero", [(L, "zero.bin"), (O, "0"), (N, "48")], "refused",
         "symlink to /dev/zero")
    case("directory", [(L, "adir.bin")], "refused", "a folder as location")
    case("missing_file", [(L, "nope.bin")], "refused", "location that does not exist")
    case("empty_location", [(L, "")], "refused", "empty location")
    case("colon_location", [(L, "c:weights.bin")], "refused", "location with ':'")
    case("offset_past_end", [(L, "weights.bin"), (O, "1000"), (N, "48")], "refused",
         "offset past the end of the file")
    case("length_past_end", [(L, "weights.bin"), (O, "16"), (N, "4800")], "refused",
         "length past the end of the file")
    case("range_wraps", [(L, "weights.bin"), (O, str((1 << 64) - 8)), (N, "48")], "refused",
         "offset 2^64-8: offset + length wraps")
    case("length_wraps", [(L, "weights.bin"), (O, "16"), (N, str((1 << 64) - 8))], "refused",
         "length 2^64-8: offset + length wraps to 8")
    case("offset_2pow64", [(L, "weights.bin"), (O, str(1 << 64)), (N, "48")], "refused",
         "offset 2^64 (does not fit 64 bits)")
    case("length_mismatch", [(L, "weights.bin"), (O, "16"), (N, "40")], "refused",
         "length 40 where dims need 48 bytes")
    case("no_length_mismatch", [(L, "weights.bin")], "refused",
         "no length: the whole 64-byte file, dims need 48")
    for label, text in (("hex", "0x10"), ("negative", "-1"), ("exp", "1e3"), ("plus", "+16"),
                        ("space", " 16"), ("trailing", "16 "), ("empty", "")):
        case("offset_" + label, [(L, "weights.bin"), (O, text), (N, "48")], "refused",
             "offset %r" % text)
    case("length_hex", [(L, "weights.bin"), (O, "16"), (N, "0x30")], "refused", "length '0x30'")
    case("dup_location", [(L, "weights.bin"), (L, "weights.bin"), (O, "16"), (N, "48")],
         "refused", "key 'location' twice")
    case("dup_offset", [(L, "weights.bin"), (O, "16"), (O, "16"), (N, "48")], "refused",
         "key 'offset' twice")
    case("no_location", [(O, "16"), (N, "48")], "refused", "no 'location' key")
    case("no_entries", [], "refused", "data_location EXTERNAL without any key")
    case("also_raw", [(L, "weights.bin"), (O, "16"), (N, "48")], "refused",
         "external tensor that also has raw_data", extra_raw=True)
    # The model file itself: a FIFO, /dev/zero through a symlink, a folder.
    os.mkfifo(os.path.join(c.out, "model_fifo.onnx"))
    c.add("model_fifo.onnx", None, "refused", "the model path is a FIFO (must not hang)")
    os.symlink("/dev/zero", os.path.join(c.out, "model_devzero.onnx"))
    c.add("model_devzero.onnx", None, "refused", "the model path is a symlink to /dev/zero")
    os.mkdir(os.path.join(c.out, "model_dir.onnx"))
    c.add("model_dir.onnx", None, "refused", "the model path is a folder")


def main():
    # The rest of the corpus lives beside this file (kept apart for size).
    global hostile_extra, hostile_keras
    sys.dont_write_bytecode = True  # the source tree may be read-only
    import hostile_extra
    import hostile_keras
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    real_dir = os.path.join(here, "..", "..", "..", "shared", "models", "real")
    real = sys.argv[2] if len(sys.argv) == 3 else os.path.join(
        real_dir, "tf2onnx-1.17_op13_ohhmkar_gopherRT_mnist.onnx")
    small = os.path.join(os.path.dirname(real),
                         "pytorch-2.2_op10_0x18a6_verifiable-nn_mnist_model.onnx")
    if os.listdir(out):
        sys.exit("make_hostile.py: %s is not empty" % out)
    c = Corpus(out)
    truncations(c, real)
    keras_damage(c, os.path.dirname(real))
    bit_flips(c, small)
    framing(c)
    tensors(c)
    names(c)
    attributes(c)
    structure(c)
    header(c)
    nesting(c)
    amplification(c)
    hash_flood(c)
    constants(c)
    big_graphs(c)
    odd_but_valid(c)
    external(c)
    hostile_extra.framing_known_fields(c)
    hostile_extra.tensors_extra(c)
    hostile_extra.names_extra(c)
    hostile_extra.attributes_extra(c)
    hostile_extra.structure_extra(c)
    hostile_extra.shapes_extra(c)
    hostile_extra.functions(c)
    hostile_extra.nesting_extra(c)
    hostile_extra.external_extra(c)
    hostile_extra.npy_inputs(c)
    hostile_keras.keras_hostile(c, os.path.dirname(real))
    c.write_manifest()
    print("%d cases written to %s" % (len(c.lines), out))


if __name__ == "__main__":
    main()
