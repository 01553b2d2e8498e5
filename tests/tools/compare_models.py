#!/usr/bin/python3
"""Check that ONNX files hold equal ModelProtos, as the python onnx package sees them.

    compare_models.py IN OUT [IN2 OUT2 ...]

For each pair, onnx.load() both files and require
`onnx.load(IN) == onnx.load(OUT)`: protobuf message equality, which covers
every known field, field presence and the unknown fields kept from newer
schemas. When a pair differs, a summary of the first differences (field path,
value in IN, value in OUT) goes to stderr.

Exit status: 0 all pairs equal, 1 some pair differs or cannot be loaded,
2 usage error.

External data is resolved relative to each file's folder and folded back into
raw_data, as onnx.load does; onnx.load then leaves data_location explicitly
set to DEFAULT on those tensors, which proto2 equality would count as a
difference from a tensor that never had the field, so the marker is cleared
on exactly the tensors that were stored externally. A model saved with
--external-data thus compares equal to its inline original.
"""
import math
import os
import struct
import sys

import onnx
from onnx import external_data_helper
from google.protobuf.descriptor import FieldDescriptor

MAX_DIFFS = 20


def short(value):
    """A value for a diff line, clipped to a readable length."""
    if isinstance(value, bytes):
        text = "bytes[%d] %s" % (len(value), value[:24].hex())
        return text + ("..." if len(value) > 24 else "")
    if isinstance(value, float):
        return repr(value)
    text = repr(value) if not hasattr(value, "ListFields") else "{%s}" % ", ".join(
        f.name for f, _ in value.ListFields())
    return text if len(text) <= 80 else text[:77] + "..."


def same_scalar(a, b, field):
    if field.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        # Bit-level equality, so NaN == NaN but 0.0 != -0.0 (both matter to a model).
        fmt = "<f" if field.type == FieldDescriptor.TYPE_FLOAT else "<d"
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return struct.pack(fmt, a) == struct.pack(fmt, b)
    return a == b


def unknown_fields(msg):
    try:
        return [(f.field_number, f.wire_type, f.data) for f in msg.UnknownFields()]
    except Exception:  # older protobuf without UnknownFields()
        return None


def diff(a, b, path, out):
    """Append 'path: IN vs OUT' lines for the differences between messages a and b."""
    if len(out) >= MAX_DIFFS:
        return
    fa = {f.name: (f, v) for f, v in a.ListFields()}
    fb = {f.name: (f, v) for f, v in b.ListFields()}
    ua, ub = unknown_fields(a), unknown_fields(b)
    if ua != ub:
        out.append("%s: unknown fields differ: IN has %s, OUT has %s" % (
            path or "<model>", describe_unknown(ua), describe_unknown(ub)))
    for name in sorted(set(fa) | set(fb), key=lambda n: (fa.get(n) or fb.get(n))[0].number):
        if len(out) >= MAX_DIFFS:
            return
        p = "%s.%s" % (path, name) if path else name
        if name not in fb:
            out.append("%s: set in IN (%s), absent in OUT" % (p, short(fa[name][1])))
            continue
        if name not in fa:
            out.append("%s: absent in IN, set in OUT (%s)" % (p, short(fb[name][1])))
            continue
        field, va = fa[name]
        vb = fb[name][1]
        is_msg = field.type in (FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_GROUP)
        if field.label == FieldDescriptor.LABEL_REPEATED:
            if len(va) != len(vb):
                out.append("%s: %d entries in IN, %d in OUT" % (p, len(va), len(vb)))
            for i, (x, y) in enumerate(zip(va, vb)):
                if len(out) >= MAX_DIFFS:
                    return
                if is_msg:
                    if x != y:
                        diff(x, y, "%s[%d]" % (p, i), out)
                elif not same_scalar(x, y, field):
                    out.append("%s[%d]: %s in IN, %s in OUT" % (p, i, short(x), short(y)))
        elif is_msg:
            if va != vb:
                diff(va, vb, p, out)
        elif not same_scalar(va, vb, field):
            out.append("%s: %s in IN, %s in OUT" % (p, short(va), short(vb)))


def describe_unknown(fields):
    if fields is None:
        return "?"
    if not fields:
        return "none"
    return ", ".join("#%d(wire %d, %s)" % (n, w, short(d) if isinstance(d, bytes) else d)
                     for n, w, d in fields)


def load(path):
    model = onnx.load(path, load_external_data=False)
    external = [t for t in external_data_helper._get_all_tensors(model)
                if external_data_helper.uses_external_data(t)]
    if external:
        external_data_helper.load_external_data_for_model(model, os.path.dirname(path) or ".")
        for t in external:
            t.ClearField("data_location")
    return model


def compare(path_in, path_out):
    """0 when equal; else prints why and returns 1."""
    try:
        a = load(path_in)
    except Exception as e:
        print("%s: cannot load IN: %s" % (path_in, e), file=sys.stderr)
        return 1
    try:
        b = load(path_out)
    except Exception as e:
        print("%s: cannot load OUT (converted from %s): %s" % (path_out, path_in, e),
              file=sys.stderr)
        return 1
    if a == b:
        return 0
    lines = []
    diff(a, b, "", lines)
    if not lines:
        # NaN != NaN is the one way == fails with no field-level difference;
        # then the canonical serializations are equal.
        if a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True):
            return 0
        lines.append("messages differ, but no field-level difference was found")
    print("%s -> %s: ModelProtos differ (first %d differences):" % (path_in, path_out, len(lines)),
          file=sys.stderr)
    for line in lines:
        print("  " + line, file=sys.stderr)
    return 1


def main(argv):
    if len(argv) < 3 or (len(argv) - 1) % 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    pairs = list(zip(argv[1::2], argv[2::2]))
    failed = sum(compare(a, b) for a, b in pairs)
    if len(pairs) > 1:
        print("%d of %d pairs equal" % (len(pairs) - failed, len(pairs)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
