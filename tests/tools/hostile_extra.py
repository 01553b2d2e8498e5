"""More hostile ONNX cases for make_hostile.py (split out to keep each file
readable): lengths of 2^31 and more on known fields, more lying tensors and
names, out-of-range integer attributes on every op that has one, local
functions (recursive, mutually recursive, duplicated, a 100k-long chain),
100k-deep nesting through every kind of subgraph attribute, more external
data tricks, and hostile .npy inputs for `onnxc run`.

Each function takes the Corpus `c` of make_hostile.py and adds cases to it.
"""
import os
import struct

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import make_hostile as mh
from make_hostile import f_bytes, f_varint, key, varint

# Field numbers used below (onnx.proto).
MODEL_FUNCTIONS = 25
FN_NAME, FN_INPUT, FN_OUTPUT, FN_NODE, FN_OPSET, FN_DOMAIN = 1, 4, 5, 7, 9, 10
NODE_DOMAIN = 7
ATTR_GRAPHS, ATTR_TYPE_GRAPHS = 11, 10
TENSOR_FLOAT_DATA, TENSOR_INT64_DATA, TENSOR_DATA_LOCATION, TENSOR_EXTERNAL = 4, 7, 14, 13


def base_bytes():
    return mh.ser(mh.make_model(mh.base_graph()))


def framing_known_fields(c):
    """Length prefixes >= 2^31 on fields the reader knows (a 32-bit length
    would wrap or go negative), each followed by a few real bytes."""
    base = base_bytes()
    for bits in (31, 32, 63):
        c.add("len_graph_2pow%d.onnx" % bits, base + key(mh.MODEL_GRAPH, 2) + varint(1 << bits) + b"\x0a\x00",
              "refused", "graph with length prefix 2^%d" % bits)
        c.add("len_raw_data_2pow%d.onnx" % bits,
              mh.graph_with_initializer(mh.tensor_bytes("c", 1, [1], None) + key(mh.TENSOR_RAW, 2) +
                                        varint(1 << bits) + b"\x00" * 4),
              "refused", "raw_data with length prefix 2^%d and 4 bytes" % bits)
        node = key(mh.NODE_OP, 2) + varint(1 << bits) + b"Relu"
        c.add("len_op_type_2pow%d.onnx" % bits, base + f_bytes(mh.MODEL_GRAPH, f_bytes(mh.GRAPH_NODE, node)),
              "refused", "node op_type with length prefix 2^%d" % bits)
    c.add("len_negative_as_int32.onnx", base + key(mh.MODEL_GRAPH, 2) + varint((1 << 64) - 5) + b"\x0a\x00",
          "refused", "graph length -5 as a 64-bit varint")


def tensors_extra(c):
    def init_case(name, tensor, expect, desc):
        c.add(name, mh.graph_with_initializer(tensor), expect, desc)

    f4 = struct.pack("<f", 1.5)
    i64 = f_varint(TENSOR_INT64_DATA, 5)
    init_case("int64_raw_and_typed.onnx", mh.tensor_bytes("c", 7, [1], struct.pack("<q", 5), i64), "refused",
              "int64 tensor with raw_data and int64_data")
    init_case("int64_no_data.onnx", mh.tensor_bytes("c", 7, [3], None), "refused",
              "int64 dims [3] with no data")
    init_case("empty_no_data.onnx", mh.tensor_bytes("c", 1, [0, 3], None), "loads",
              "dims [0,3] with no data: an empty tensor (valid)")
    init_case("both_empty_raw_and_typed.onnx", mh.tensor_bytes("c", 1, [1], b"", key(4, 5) + f4), "refused",
              "an empty raw_data field present beside float_data")
    init_case("float16_as_float_data.onnx", mh.tensor_bytes("c", 10, [1], None, key(4, 5) + f4), "refused",
              "float16 tensor holding float_data (float16 goes in int32_data)")
    init_case("string_as_raw.onnx", mh.tensor_bytes("c", 8, [1], b"abcd"), "refused",
              "string tensor with raw_data")
    init_case("double_as_float_data.onnx", mh.tensor_bytes("c", 11, [1], None, key(4, 5) + f4), "refused",
              "double tensor holding float_data")
    init_case("bool_raw_size.onnx", mh.tensor_bytes("c", 9, [4], b"\x01\x00"), "refused",
              "bool dims [4] with 2 bytes of raw_data")
    init_case("dims_wrap64_three.onnx", mh.tensor_bytes("c", 1, [1 << 22, 1 << 21, 1 << 21], b""), "refused",
              "dims [2^22,2^21,2^21]: 2^64 elements wrap to 0, raw_data empty")
    # a * b = 1 (mod 2^64), both below 2^63: a 64-bit count sees one element.
    a, b = 3699794560238578403, 3877204897729161931
    init_case("dims_wrap64_to_one_typed.onnx", mh.tensor_bytes("c", 7, [a, b], None, i64), "refused",
              "int64 dims whose product wraps to 1 in 64 bits, with one int64_data value")
    init_case("dims_wrap64_to_one_raw.onnx", mh.tensor_bytes("c", 1, [a, b], f4), "refused",
              "float dims whose product wraps to 1 in 64 bits, with 4 bytes of raw_data")
    init_case("dims_wrap32_to_one.onnx", mh.tensor_bytes("c", 1, [3, 2863311531], f4), "refused",
              "dims [3, 2863311531]: product wraps to 1 in 32 bits, 4 bytes of raw_data")
    init_case("dims_wrap32_typed_one.onnx", mh.tensor_bytes("c", 1, [(1 << 32) + 1], None, key(4, 5) + f4),
              "refused", "dims [2^32+1] with one float_data value (a 32-bit count sees 1)")
    init_case("dims_wrap32_product.onnx", mh.tensor_bytes("c", 1, [65537, 65535], f4), "refused",
              "dims [65537,65535] = 2^32-1 elements with one value of data")
    init_case("dtype_2pow32_plus1.onnx", mh.tensor_bytes("c", (1 << 32) + 1, [1], f4), "refused",
              "data_type 2^32+1 (a 32-bit read sees FLOAT)")
    init_case("data_location_bogus.onnx", mh.tensor_bytes("c", 1, [1], f4, f_varint(TENSOR_DATA_LOCATION, 7)),
              "refused", "data_location 7 (neither DEFAULT nor EXTERNAL)")
    init_case("external_entries_default_location.onnx",
              mh.tensor_bytes("c", 1, [1], None, f_bytes(TENSOR_EXTERNAL, f_bytes(1, "location") +
                                                         f_bytes(2, "w.bin"))),
              "refused", "external_data entries without data_location EXTERNAL (from memory: no folder)")
    # Rank past the limit on declared types.
    g = mh.base_graph()
    g.output.append(mh.float_vi("big_out", [1] * 64))
    g.node.append(helper.make_node("Relu", ["y"], ["big_out"], name="relu64"))
    c.add("rank64_output.onnx", mh.ser(mh.make_model(g)), "refused", "graph output declared with rank 64")


def names_extra(c):
    base = base_bytes()
    graph = lambda b: base + f_bytes(mh.MODEL_GRAPH, b)  # noqa: E731
    t = mh.tensor_bytes("c\x00d", 1, [1], struct.pack("<f", 1))
    c.add("nul_in_initializer_name.onnx", graph(f_bytes(mh.GRAPH_INIT, t)), "refused",
          "initializer name with an embedded NUL")
    attr = f_bytes(mh.ATTR_NAME, "ax\x00is") + f_varint(mh.ATTR_I, 1) + f_varint(mh.ATTR_TYPE, mh.ATTR_TYPE_INT)
    node = f_bytes(mh.NODE_IN, "y") + f_bytes(mh.NODE_OUT, "q") + f_bytes(mh.NODE_OP, "Softmax") + \
        f_bytes(mh.NODE_ATTR, attr)
    c.add("nul_in_attribute_name.onnx", graph(f_bytes(mh.GRAPH_NODE, node)), "refused",
          "attribute name with an embedded NUL")
    node = f_bytes(mh.NODE_IN, "y") + f_bytes(mh.NODE_OUT, "q") + f_bytes(mh.NODE_OP, "Relu\x00Evil")
    c.add("nul_in_op_type.onnx", graph(f_bytes(mh.GRAPH_NODE, node)), "refused", "op_type with an embedded NUL")
    c.add("nul_in_opset_domain.onnx", base + f_bytes(mh.MODEL_OPSET, f_bytes(mh.OPSET_DOMAIN, "com\x00x") +
                                                     f_varint(mh.OPSET_VERSION, 1)),
          "refused", "opset_import domain with an embedded NUL")
    long = "R" * (1 << 20)
    node = f_bytes(mh.NODE_IN, "y") + f_bytes(mh.NODE_OUT, "q") + f_bytes(mh.NODE_OP, long)
    m = base + f_bytes(mh.MODEL_GRAPH, f_bytes(mh.GRAPH_NODE, node) +
                       f_bytes(mh.GRAPH_OUTPUT, f_bytes(mh.VI_NAME, "q")))
    c.add("long_op_type_1mb.onnx", m, "unrunnable", "a 1 MB op_type (unsupported op, message stays bounded)")
    g = mh.base_graph()
    g.name = "g" * (4 << 20)
    c.add("long_graph_name_4mb.onnx", mh.ser(mh.make_model(g)), "loads", "a 4 MB graph name")


def attributes_extra(c):
    """Integer attributes that a 32-bit narrowing would turn into valid
    values; each must be refused (at load or when shapes are inferred)."""
    x = mh.float_vi("x", [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    big, bigp1 = 1 << 32, (1 << 32) + 1
    cases = [
        # (label, node, opset, extra inputs (initializers))
        ("cast_to", helper.make_node("Cast", ["x"], ["y"], to=bigp1), 13, []),
        ("cast_to_negative", helper.make_node("Cast", ["x"], ["y"], to=-(1 << 32) + 1), 13, []),
        ("gemm_transa", helper.make_node("Gemm", ["x", "w"], ["y"], transA=big), 13, ["w"]),
        ("gemm_transb", helper.make_node("Gemm", ["x", "w"], ["y"], transB=bigp1), 13, ["w"]),
        ("argmax_axis", helper.make_node("ArgMax", ["x"], ["y"], axis=bigp1), 13, []),
        ("argmax_keepdims", helper.make_node("ArgMax", ["x"], ["y"], keepdims=big), 13, []),
        ("reducemean_keepdims", helper.make_node("ReduceMean", ["x"], ["y"], keepdims=big), 13, []),
        ("reducemax_axes", helper.make_node("ReduceMax", ["x"], ["y"], axes=[bigp1]), 13, []),
        ("logsoftmax_axis", helper.make_node("LogSoftmax", ["x"], ["y"], axis=-big + 1), 13, []),
        ("squeeze_axes", helper.make_node("Squeeze", ["x"], ["y"], axes=[big]), 11, []),
        ("unsqueeze_axes", helper.make_node("Unsqueeze", ["x"], ["y"], axes=[bigp1]), 11, []),
        ("concat_axis_int64_min", helper.make_node("Concat", ["x", "x"], ["y"], axis=-(1 << 63)), 13, []),
        ("flatten_axis_minus", helper.make_node("Flatten", ["x"], ["y"], axis=-big), 13, []),
        ("transpose_perm_minus", helper.make_node("Transpose", ["x"], ["y"], perm=[-big, 0]), 13, []),
    ]
    # Checked when the model loads (flags must be 0 or 1, Cast's `to` a data
    # type, perm a permutation); the rest need the input's rank.
    at_load = {"cast_to", "cast_to_negative", "gemm_transa", "gemm_transb", "argmax_keepdims",
               "reducemean_keepdims", "transpose_perm_minus"}
    for label, node, opset, extra in cases:
        inits = []
        if extra:
            inits.append(numpy_helper.from_array(np.ones((3, 3), np.float32), "w"))
        g = helper.make_graph([node], label, [x], [y], inits)
        c.add("attr_%s.onnx" % label, mh.ser(mh.make_model(g, opsets=(("", opset),))),
              "refused" if label in at_load else "unrunnable",
              "%s with an out-of-range integer attribute" % node.op_type, run_input="softmax_x.npy")


def structure_extra(c):
    node = helper.make_node
    vi = mh.float_vi
    g = helper.make_graph([node("Relu", ["x"], ["a"]), node("Relu", ["c"], ["b"]), node("Relu", ["b"], ["c"]),
                           node("Add", ["a", "c"], ["y"])], "g", [vi("x", ["N", 4])], [vi("y", ["N", 4])])
    c.add("cycle_off_the_path.onnx", mh.ser(mh.make_model(g)), "refused",
          "a two-node cycle feeding the output beside a valid path")
    g = helper.make_graph([node("Relu", ["x"], ["w"]), node("Add", ["x", "w"], ["y"])], "g", [vi("x", ["N", 4])],
                          [vi("y", ["N", 4])], [numpy_helper.from_array(np.ones(4, np.float32), "w")])
    c.add("node_output_shadows_initializer.onnx", mh.ser(mh.make_model(g)), "refused",
          "a node output with an initializer's name")
    chain = [node("Relu", ["t%d" % i], ["t%d" % (i + 1)]) for i in range(1000)]
    chain.append(node("Relu", ["t1000"], ["t0"]))
    g = helper.make_graph(chain + [node("Relu", ["t500"], ["y"])], "g", [], [vi("y", ["N", 4])])
    c.add("cycle_1000.onnx", mh.ser(mh.make_model(g)), "refused", "a cycle through 1001 nodes", max_s=5)


def shapes_extra(c):
    """Declared shapes, sparse initializers and very wide nodes."""
    vi = mh.float_vi
    node = helper.make_node

    def model(nodes, inputs, outputs=None, inits=()):
        g = helper.make_graph(nodes, "g", inputs, outputs or [helper.make_tensor_value_info("y", 1, None)],
                              list(inits))
        return mh.ser(mh.make_model(g))

    c.add("input_dim_negative.onnx", model([node("Relu", ["x"], ["y"])], [vi("x", [-5, 3])]), "refused",
          "graph input declared with dim -5")
    c.add("input_dim_minus1.onnx", model([node("Relu", ["x"], ["y"])], [vi("x", [-1, 3])]), "loads",
          "graph input declared with dim -1 (unknown, as some exporters write it)", run_input="softmax_x.npy")
    c.add("output_dim_int64_min.onnx", model([node("Relu", ["x"], ["y"])], [vi("x", [2, 3])],
                                             [vi("y", [-(1 << 63), 3])]), "refused",
          "graph output declared with dim INT64_MIN")
    g = helper.make_graph([node("Add", ["x", "v"], ["y"])], "g", [vi("x", [4])], [vi("y", [4])])
    g.sparse_initializer.append(helper.make_sparse_tensor(
        helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]),
        helper.make_tensor("i", TensorProto.INT64, [1], [1 << 40]), [4]))
    c.add("sparse_initializer_oob.onnx", mh.ser(mh.make_model(g)), "refused",
          "a sparse initializer whose index is 2^40 (sparse initializers are not supported)")
    c.add("concat_100k_inputs.onnx", model([node("Concat", ["x"] * 100000, ["y"], axis=0)], [vi("x", [1, 3])]),
          "loads", "Concat of one input listed 100,000 times", max_s=5)
    c.add("transpose_perm_1m.onnx", model([node("Transpose", ["x"], ["y"], perm=list(range(1 << 20)))],
                                          [vi("x", [2, 3])]),
          "refused", "Transpose with a perm of 2^20 entries", max_s=5)
    c.add("relu_100k_outputs.onnx", model([node("Relu", ["x"], ["y"] + ["z%d" % i for i in range(100000)])],
                                          [vi("x", [2, 3])]),
          "refused", "Relu with 100,001 outputs", max_s=5)


def functions(c):
    """ModelProto.functions: onnxc runs no local functions (a call is an
    unsupported op), but recursion and duplicates make the file invalid."""
    opsets = (("", 13), ("local", 1))
    x, y = mh.float_vi("x", [2, 3]), mh.float_vi("y", [2, 3])

    def fn(name, body, domain="local"):
        return helper.make_function(domain, name, ["a"], ["b"], body,
                                    [helper.make_opsetid(d, v) for d, v in opsets])

    def call(name):
        return helper.make_node(name, ["a"], ["b"], domain="local")

    def model(fns, graph_nodes=None):
        g = helper.make_graph(graph_nodes or [helper.make_node("F", ["x"], ["y"], domain="local")], "g", [x], [y])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets], functions=fns)
        m.ir_version = 8
        return mh.ser(m)

    c.add("fn_recursive_self.onnx", model([fn("F", [call("F")])]), "refused", "a local function that calls itself")
    c.add("fn_recursive_mutual.onnx", model([fn("F", [call("G")]), fn("G", [call("F")])]), "refused",
          "local functions F and G that call each other")
    c.add("fn_recursive_unused.onnx", model([fn("H", [call("H")])],
                                            [helper.make_node("Relu", ["x"], ["y"])]),
          "refused", "a recursive local function that the graph does not call")
    body_if = helper.make_node("If", ["a"], ["b"], then_branch=helper.make_graph([call("F")], "t", [], [y]),
                               else_branch=helper.make_graph([helper.make_node("Relu", ["a"], ["b"])], "e", [], [y]))
    c.add("fn_recursive_in_subgraph.onnx", model([fn("F", [body_if])]), "refused",
          "a local function that calls itself from inside an If branch")
    c.add("fn_duplicate.onnx", model([fn("F", [helper.make_node("Relu", ["a"], ["b"])]),
                                      fn("F", [helper.make_node("Relu", ["a"], ["b"])])]),
          "refused", "the same local function defined twice")
    c.add("fn_valid_call.onnx", model([fn("F", [helper.make_node("Relu", ["a"], ["b"])])]), "unrunnable",
          "a valid local function called by the graph (onnxc has no local functions: unsupported)")
    c.add("fn_valid_unused.onnx", model([fn("F", [helper.make_node("Relu", ["a"], ["b"])])],
                                        [helper.make_node("Relu", ["x"], ["y"])]),
          "loads", "a valid local function that nothing calls")
    # 100,000 functions in a chain, written by hand (helper is slow at this).
    n = 100000
    head = f_varint(mh.MODEL_IR, 8) + f_bytes(mh.MODEL_OPSET, f_varint(mh.OPSET_VERSION, 13)) + \
        f_bytes(mh.MODEL_OPSET, f_bytes(mh.OPSET_DOMAIN, "local") + f_varint(mh.OPSET_VERSION, 1))
    ty = f_bytes(mh.VI_TYPE, f_bytes(mh.TYPE_TENSOR, f_varint(1, 1)))
    graph = f_bytes(mh.GRAPH_NODE, f_bytes(mh.NODE_IN, "x") + f_bytes(mh.NODE_OUT, "y") +
                    f_bytes(mh.NODE_OP, "f0") + f_bytes(NODE_DOMAIN, "local")) + \
        f_bytes(mh.GRAPH_INPUT, f_bytes(mh.VI_NAME, "x") + ty) + f_bytes(mh.GRAPH_OUTPUT, f_bytes(mh.VI_NAME, "y") + ty)
    fn_opset = f_bytes(FN_OPSET, f_varint(mh.OPSET_VERSION, 13)) + \
        f_bytes(FN_OPSET, f_bytes(mh.OPSET_DOMAIN, "local") + f_varint(mh.OPSET_VERSION, 1))

    def chain(last_calls):
        parts = []
        for i in range(n):
            callee, dom = ("f%d" % (i + 1), "local") if i + 1 < n else last_calls
            body = f_bytes(mh.NODE_IN, "a") + f_bytes(mh.NODE_OUT, "b") + f_bytes(mh.NODE_OP, callee)
            if dom:
                body += f_bytes(NODE_DOMAIN, dom)
            parts.append(f_bytes(MODEL_FUNCTIONS, f_bytes(FN_NAME, "f%d" % i) + f_bytes(FN_DOMAIN, "local") +
                                 f_bytes(FN_INPUT, "a") + f_bytes(FN_OUTPUT, "b") + f_bytes(FN_NODE, body) +
                                 fn_opset))
        return b"".join(parts)

    c.add("fn_chain_100k.onnx", head + f_bytes(mh.MODEL_GRAPH, graph) + chain(("Relu", "")), "unrunnable",
          "100,000 local functions, each calling the next (no recursion)", max_s=5)
    c.add("fn_cycle_100k.onnx", head + f_bytes(mh.MODEL_GRAPH, graph) + chain(("f0", "local")), "refused",
          "100,000 local functions calling each other in one cycle", max_s=5)


def nested_graphs_attr(depth):
    """GraphProto bytes nested `depth` deep through repeated `graphs`
    attributes (AttributeProto type GRAPHS), built inside out."""
    core = f_bytes(mh.GRAPH_NAME, "leaf")
    prefixes = []
    inner_len = len(core)
    for _ in range(depth):
        attr_head = f_bytes(mh.ATTR_NAME, "bodies") + f_varint(mh.ATTR_TYPE, ATTR_TYPE_GRAPHS) + \
            key(ATTR_GRAPHS, 2) + varint(inner_len)
        attr_len = len(attr_head) + inner_len
        node_head = f_bytes(mh.NODE_OUT, "o") + f_bytes(mh.NODE_OP, "Scan") + key(mh.NODE_ATTR, 2) + varint(attr_len)
        node_len = len(node_head) + attr_len
        graph_head = key(mh.GRAPH_NODE, 2) + varint(node_len)
        prefixes.append(graph_head + node_head + attr_head)
        inner_len = len(graph_head) + node_len
    prefixes.reverse()
    return b"".join(prefixes) + core


def nesting_extra(c):
    head = f_varint(mh.MODEL_IR, 7) + f_bytes(mh.MODEL_OPSET, f_varint(mh.OPSET_VERSION, 13))
    top = f_bytes(mh.GRAPH_OUTPUT, f_bytes(mh.VI_NAME, "o"))
    c.add("nested_graphs_attr_100k.onnx", head + f_bytes(mh.MODEL_GRAPH, nested_graphs_attr(100000) + top),
          "refused", "subgraphs nested 100,000 deep through a GRAPHS attribute")
    # The same 100k-deep If nesting, inside a local function's body.
    inner = mh.nested_if_graph(100000)
    # Reuse the outer If node of the nesting as the function's only node.
    fn = f_bytes(FN_NAME, "F") + f_bytes(FN_DOMAIN, "local") + f_bytes(FN_OUTPUT, "o") + \
        f_bytes(FN_NODE, f_bytes(mh.NODE_OUT, "o") + f_bytes(mh.NODE_OP, "If") +
                f_bytes(mh.NODE_ATTR, f_bytes(mh.ATTR_NAME, "then_branch") +
                        f_varint(mh.ATTR_TYPE, mh.ATTR_TYPE_GRAPH) + f_bytes(mh.ATTR_G, inner)))
    base = base_bytes()
    c.add("nested_in_function_100k.onnx", base + f_bytes(MODEL_FUNCTIONS, fn), "refused",
          "If subgraphs nested 100,000 deep inside a local function")
    # 100k-deep nesting in a Constant's tensor-in-attribute-in-graph chain is
    # covered by the If case; a deep TypeProto map(value) chain here.
    t = f_bytes(mh.TYPE_TENSOR, f_varint(1, 1))
    n = len(t)
    parts = []
    for _ in range(100000):
        inner = f_varint(1, 7) + key(2, 2) + varint(n)       # map_type: key int64, value TypeProto
        outer = key(5, 2) + varint(len(inner) + n)           # TypeProto.map_type = 5
        parts.append(outer + inner)
        n += len(inner) + len(outer)
    parts.reverse()
    ty = b"".join(parts) + t
    vi = f_bytes(mh.VI_NAME, "deep") + key(mh.VI_TYPE, 2) + varint(len(ty)) + ty
    c.add("nested_map_type_100k.onnx", base + f_bytes(mh.MODEL_GRAPH, f_bytes(mh.GRAPH_INPUT, vi)), "refused",
          "map types nested 100,000 deep in a graph input")


def external_extra(c):
    """More external-data tricks; files are those external() of
    make_hostile.py put into ext/ (weights.bin holds the weights at 16)."""
    ext = os.path.join(c.out, "ext")
    os.symlink("loop_b.bin", os.path.join(ext, "loop_a.bin"))
    os.symlink("loop_a.bin", os.path.join(ext, "loop_b.bin"))
    os.symlink("link_out.bin", os.path.join(ext, "link_chain.bin"))     # -> ../outside.bin
    os.symlink("sub", os.path.join(ext, "subdir_link"))                 # a folder inside: fine
    with open(os.path.join(ext, "sub", "w.bin"), "wb") as f:
        f.write((np.arange(12, dtype=np.float32).reshape(4, 3) / 10).tobytes())
    os.symlink(os.path.abspath(os.path.join(c.out, "outside_dir")), os.path.join(ext, "abslinkdir"))
    device = False
    try:
        os.mknod(os.path.join(ext, "chardev.bin"), 0o600 | 0o020000, os.makedev(1, 5))  # like /dev/zero
        device = True
    except (PermissionError, OSError):
        pass

    def model(entries, dims=(4, 3), location_field=True):
        g = mh.base_graph()
        t = g.initializer[0]
        t.ClearField("raw_data")
        del t.dims[:]
        t.dims.extend(dims)
        if location_field:
            t.data_location = TensorProto.EXTERNAL
        for k, v in entries:
            e = t.external_data.add()
            e.key = k
            e.value = v
        return mh.ser(mh.make_model(g))

    def case(name, entries, expect, desc, **kw):
        c.add("ext/" + name + ".onnx", model(entries, **kw), expect, desc)

    L, O, N = "location", "offset", "length"
    case("symlink_loop", [(L, "loop_a.bin")], "refused", "a symlink loop (must not hang)")
    # The model itself opened through a symlinked folder: its folder is the
    # one it was opened from, and the same files inside it load.
    os.symlink("ext", os.path.join(c.out, "ext_via_link"))
    c.add("ext_via_link/ok.onnx", None, "loads", "external data of a model opened through a folder symlink")
    c.add("ext_via_link/dotdot.onnx", None, "refused", "'..' through a folder symlink")
    case("symlink_chain_out", [(L, "link_chain.bin"), (O, "16"), (N, "48")], "refused",
         "a symlink to a symlink that leads outside")
    case("symlink_abs_dir", [(L, "abslinkdir/weights.bin"), (O, "16"), (N, "48")], "refused",
         "a folder symlink with an absolute target outside")
    case("ok_symlink_dir_inside", [(L, "subdir_link/w.bin")], "loads",
         "a folder symlink that stays inside the model folder")
    case("ok_subfolder", [(L, "sub/w.bin")], "loads", "a file in a subfolder")
    case("ok_dot_component", [(L, "./sub/./w.bin")], "loads", "'.' components")
    if device:
        case("char_device", [(L, "chardev.bin"), (O, "0"), (N, "48")], "refused",
             "a character device inside the model folder")
    case("trailing_slash", [(L, "weights.bin/")], "refused", "location 'weights.bin/'")
    case("location_is_folder_dot", [(L, ".")], "refused", "location '.' (the folder itself)")
    case("location_model_itself", [(L, "ok.onnx")], "refused",
         "location naming a model file (size does not match the tensor)")
    case("long_location", [(L, "a/" * 3000 + "w.bin")], "refused", "a 6 kB location")
    case("dup_length", [(L, "weights.bin"), (O, "16"), (N, "48"), (N, "48")], "refused", "key 'length' twice")
    case("offset_fullwidth_digits", [(L, "weights.bin"), (O, "\uff11\uff16"), (N, "48")], "refused",
         "offset in full-width digits")
    case("offset_leading_plus_zero", [(L, "weights.bin"), (O, "+0"), (N, "48")], "refused", "offset '+0'")
    case("offset_octal_like", [(L, "weights.bin"), (O, "0o20"), (N, "48")], "refused", "offset '0o20'")
    case("length_negative", [(L, "weights.bin"), (O, "16"), (N, "-48")], "refused", "length '-48'")
    case("length_2pow64", [(L, "weights.bin"), (O, "16"), (N, str(1 << 64))], "refused",
         "length 2^64 (does not fit 64 bits)")
    case("wrap_dims_zero_length", [(L, "weights.bin"), (O, "0"), (N, "0")], "refused",
         "dims [2^32,2^32] (count wraps to 0) with length 0", dims=(1 << 32, 1 << 32))
    case("key_case", [("Location", "weights.bin")], "refused", "key 'Location' (keys are case-sensitive)")
    case("entries_without_location_field", [(L, "weights.bin"), (O, "16"), (N, "48")], "refused",
         "external_data entries but data_location left DEFAULT (no data)", location_field=False)
    # Five 4 GiB tensors (each within max_tensor_bytes) from one file: 20 GiB
    # together, past max_total_bytes; refused before anything is read.
    g = mh.base_graph()
    for i in range(5):
        t = g.initializer.add()
        t.name = "big%d" % i
        t.data_type = TensorProto.FLOAT
        t.dims.extend([1 << 30])
        t.data_location = TensorProto.EXTERNAL
        for k, v in ((L, "weights.bin"), (O, "0"), (N, str(4 << 30))):
            e = t.external_data.add()
            e.key, e.value = k, v
    c.add("ext/total_20gib.onnx", mh.ser(mh.make_model(g)), "refused",
          "five external tensors of 4 GiB each: 20 GiB past max_total_bytes", max_s=5)
    # The location string with a NUL: "weights.bin\0../../etc/passwd".
    g = mh.base_graph()
    g.initializer[0].name = "W_unused"
    t = mh.tensor_bytes("W", 1, [4, 3], None,
                        f_varint(TENSOR_DATA_LOCATION, 1) +
                        f_bytes(TENSOR_EXTERNAL, f_bytes(1, "location") + f_bytes(2, b"weights.bin\x00../../etc/passwd")))
    c.add("ext/nul_in_location.onnx", mh.ser(mh.make_model(g)) + f_bytes(mh.MODEL_GRAPH, f_bytes(mh.GRAPH_INIT, t)),
          "refused", "location 'weights.bin\\0../../etc/passwd'")


def nested_header(depth):
    h = b"{'descr': " + b"[" * depth + b"]" * depth + b"}\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h


def npy_inputs(c):
    """Hostile .npy inputs given to `onnxc run` of a valid model (x [2,3])."""
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [mh.float_vi("x", [2, 3])],
                          [mh.float_vi("y", [2, 3])])
    model = mh.ser(mh.make_model(g))
    os.makedirs(os.path.join(c.out, "npy"), exist_ok=True)

    def header(d, version=1):
        h = repr(d).encode()
        pad = 64 - (10 + len(h) + 1) % 64
        h = h + b" " * pad + b"\n"
        return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<H", len(h)) + h

    ok = header({"descr": "<f4", "fortran_order": False, "shape": (2, 3)})
    cases = [
        ("pickle_object", header({"descr": "|O", "fortran_order": False, "shape": (2, 3)}) +
         b"\x80\x04\x95" + b"cos\nsystem\n(S'echo pwned'\ntR." , "object dtype (a pickle): no code runs"),
        ("shape_huge", header({"descr": "<f4", "fortran_order": False, "shape": (1 << 40, 1 << 30)}) + b"\x00" * 24,
         "shape [2^40, 2^30] with 24 bytes of data"),
        ("shape_wrap", header({"descr": "<f4", "fortran_order": False, "shape": (1 << 32, 1 << 32)}),
         "shape [2^32, 2^32]: element count wraps to 0"),
        ("shape_negative", header({"descr": "<f4", "fortran_order": False, "shape": (-2, -3)}) + b"\x00" * 24,
         "negative shape"),
        ("truncated_data", ok + b"\x00" * 10, "24 bytes of data declared, 10 present"),
        ("header_len_past_end", b"\x93NUMPY\x01\x00\xff\xff{'descr'", "header length 65535 past the end"),
        ("header_v3_huge", b"\x93NUMPY\x03\x00" + struct.pack("<I", 0xfffffff0) + b"{",
         "version 3 header length 2^32-16"),
        ("descr_bogus", header({"descr": "<q8x", "fortran_order": False, "shape": (2, 3)}) + b"\x00" * 48,
         "dtype '<q8x'"),
        ("header_not_dict", header(["descr", "<f4"]) + b"\x00" * 24, "header that is a list"),
        ("rank9", header({"descr": "<f4", "fortran_order": False, "shape": (1,) * 9}) + b"\x00" * 4, "rank 9"),
        ("header_nested", nested_header(2000), "header nesting 2000 lists deep"),
    ]
    for name, data, desc in cases:
        with open(os.path.join(c.out, "npy", name + ".npy"), "wb") as f:
            f.write(data)
        c.add("npy/run_%s.onnx" % name, model, "loads", "valid Relu model run on a hostile .npy: " + desc,
              run_input="npy/%s.npy" % name, run_expect="refused")
