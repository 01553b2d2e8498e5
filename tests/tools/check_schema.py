#!/usr/bin/python3
"""Check proto/onnx.proto against the ONNX schema compiled into the python onnx package.

    check_schema.py [PATH/TO/onnx.proto]

Parses our .proto with a small tokenizer (messages, nested messages and enums,
oneofs, fields with label, type, number and [packed] option, enum values) and
walks the descriptors of the installed onnx package
(onnx.ModelProto.DESCRIPTOR.file: every message and enum, nested ones too).

Every message, field and enum value python onnx knows must exist in ours
with the same name, number, label, type (the same message or enum for
message and enum fields), oneof and packed encoding. Ours may hold more
(newer IR versions add fields and values); they are listed, and they must not
reuse a number python onnx gives another field. The one value allowed to
differ is Version.IR_VERSION, the newest IR version, which must be at least
python's.

Exit status: 0 consistent, 1 differences (all listed), 2 cannot parse.
"""
import os
import re
import sys

import onnx
from google.protobuf.descriptor import FieldDescriptor

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO = os.path.join(HERE, "..", "..", "proto", "onnx.proto")

SCALARS = {
    "double": FieldDescriptor.TYPE_DOUBLE, "float": FieldDescriptor.TYPE_FLOAT,
    "int64": FieldDescriptor.TYPE_INT64, "uint64": FieldDescriptor.TYPE_UINT64,
    "int32": FieldDescriptor.TYPE_INT32, "fixed64": FieldDescriptor.TYPE_FIXED64,
    "fixed32": FieldDescriptor.TYPE_FIXED32, "bool": FieldDescriptor.TYPE_BOOL,
    "string": FieldDescriptor.TYPE_STRING, "bytes": FieldDescriptor.TYPE_BYTES,
    "uint32": FieldDescriptor.TYPE_UINT32, "sfixed32": FieldDescriptor.TYPE_SFIXED32,
    "sfixed64": FieldDescriptor.TYPE_SFIXED64, "sint32": FieldDescriptor.TYPE_SINT32,
    "sint64": FieldDescriptor.TYPE_SINT64,
}
TYPE_NAMES = {v: k for k, v in SCALARS.items()}
TYPE_NAMES[FieldDescriptor.TYPE_MESSAGE] = "message"
TYPE_NAMES[FieldDescriptor.TYPE_ENUM] = "enum"
LABELS = {"optional": FieldDescriptor.LABEL_OPTIONAL, "required": FieldDescriptor.LABEL_REQUIRED,
          "repeated": FieldDescriptor.LABEL_REPEATED}
LABEL_NAMES = {v: k for k, v in LABELS.items()}

TOKEN = re.compile(r'\s+|//[^\n]*|/\*.*?\*/|"(?:[^"\\]|\\.)*"|[A-Za-z_][\w.]*|-?0[xX][0-9a-fA-F]+'
                   r'|-?\d+|[{}\[\]=;<>,()]', re.S)


class ParseError(Exception):
    pass


def tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            line = text.count("\n", 0, pos) + 1
            raise ParseError("line %d: unexpected character %r" % (line, text[pos]))
        tok = m.group(0)
        pos = m.end()
        if tok.isspace() or tok.startswith("//") or tok.startswith("/*"):
            continue
        tokens.append(tok)
    return tokens


class Schema:
    """What our .proto declares: messages[full] = {name: field}, enums[full] = {name: number}."""

    def __init__(self):
        self.package = ""
        self.syntax = "proto2"
        self.messages = {}
        self.enums = {}
        self.raw_fields = []   # (message full name, field dict) before type resolution


class Parser:
    def __init__(self, tokens, schema):
        self.t = tokens
        self.i = 0
        self.s = schema

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else None

    def next(self):
        if self.i >= len(self.t):
            raise ParseError("unexpected end of file")
        self.i += 1
        return self.t[self.i - 1]

    def expect(self, tok):
        got = self.next()
        if got != tok:
            raise ParseError("expected %r, got %r near token %d (%s)" % (
                tok, got, self.i, " ".join(self.t[max(0, self.i - 6):self.i + 3])))

    def skip_statement(self):
        depth = 0
        while True:
            tok = self.next()
            if tok in "{[(":
                depth += 1
            elif tok in "}])":
                depth -= 1
            elif tok == ";" and depth == 0:
                return

    def options(self):
        """[packed = true, default = 1] -> dict."""
        opts = {}
        if self.peek() != "[":
            return opts
        self.next()
        while True:
            key = self.next()
            self.expect("=")
            opts[key] = self.next()
            tok = self.next()
            if tok == "]":
                return opts
            if tok != ",":
                raise ParseError("bad field options near %r" % tok)

    def file(self):
        while self.peek() is not None:
            tok = self.next()
            if tok == "syntax":
                self.expect("=")
                self.s.syntax = self.next().strip('"')
                self.expect(";")
            elif tok == "package":
                self.s.package = self.next()
                self.expect(";")
            elif tok == "message":
                self.message(self.s.package)
            elif tok == "enum":
                self.enum(self.s.package)
            elif tok in ("import", "option"):
                self.skip_statement()
            elif tok == ";":
                pass
            else:
                raise ParseError("unexpected %r at file level" % tok)

    def enum(self, scope):
        full = "%s.%s" % (scope, self.next())
        values = self.s.enums.setdefault(full, {})
        self.expect("{")
        while True:
            tok = self.next()
            if tok == "}":
                return
            if tok in ("option", "reserved"):
                self.skip_statement()
                continue
            self.expect("=")
            values[tok] = int(self.next(), 0)
            self.options()
            self.expect(";")

    def message(self, scope):
        full = "%s.%s" % (scope, self.next())
        self.s.messages.setdefault(full, {})
        self.expect("{")
        self.body(full, oneof=None)

    def body(self, full, oneof):
        while True:
            tok = self.next()
            if tok == "}":
                return
            if tok == "message":
                self.message(full)
            elif tok == "enum":
                self.enum(full)
            elif tok == "oneof":
                name = self.next()
                self.expect("{")
                self.body(full, oneof=name)
            elif tok in ("option", "reserved", "extensions", "extend"):
                self.skip_statement()
            elif tok == ";":
                pass
            else:
                self.field(full, tok, oneof)

    def field(self, full, first, oneof):
        if first in LABELS:
            label, ftype = first, self.next()
        elif oneof is not None or self.s.syntax == "proto3":
            label, ftype = "optional", first
        else:
            raise ParseError("%s: field without label starting with %r" % (full, first))
        if ftype == "map":
            raise ParseError("%s: map fields are not handled by this checker" % full)
        name = self.next()
        self.expect("=")
        number = int(self.next(), 0)
        opts = self.options()
        self.expect(";")
        fields = self.s.messages[full]
        if name in fields:
            raise ParseError("%s: field %s declared twice" % (full, name))
        fields[name] = {"number": number, "label": LABELS[label], "type_text": ftype,
                        "oneof": oneof, "packed": opts.get("packed") == "true"}


def resolve(schema, scope, type_text):
    """(TYPE_*, full name or None) of a field type written inside message `scope`."""
    if type_text in SCALARS:
        return SCALARS[type_text], None
    if type_text.startswith("."):
        candidates = [type_text[1:]]
    else:
        parts = scope.split(".")
        candidates = [".".join(parts[:k] + [type_text]) for k in range(len(parts), -1, -1)]
    for cand in candidates:
        if cand in schema.messages:
            return FieldDescriptor.TYPE_MESSAGE, cand
        if cand in schema.enums:
            return FieldDescriptor.TYPE_ENUM, cand
    raise ParseError("%s: unknown type %s" % (scope, type_text))


def parse(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    schema = Schema()
    Parser(tokenize(text), schema).file()
    for mname, fields in schema.messages.items():
        for fname, f in fields.items():
            f["type"], f["type_name"] = resolve(schema, mname, f["type_text"])
        numbers = {}
        for fname, f in fields.items():
            if f["number"] in numbers:
                raise ParseError("%s: fields %s and %s share number %d" % (
                    mname, numbers[f["number"]], fname, f["number"]))
            numbers[f["number"]] = fname
    return schema


def walk_descriptors(fd):
    """Yield ('message', desc) and ('enum', desc) for everything in file descriptor fd."""
    stack = [("message", m) for m in fd.message_types_by_name.values()]
    stack += [("enum", e) for e in fd.enum_types_by_name.values()]
    while stack:
        kind, d = stack.pop()
        yield kind, d
        if kind == "message":
            stack += [("message", m) for m in d.nested_types]
            stack += [("enum", e) for e in d.enum_types]


def is_packed(field):
    try:
        return bool(field.GetOptions().packed)
    except Exception:
        return False


def type_str(ftype, type_name):
    return type_name if type_name else TYPE_NAMES.get(ftype, str(ftype))


def check(schema, fd):
    problems, newer = [], []
    counts = {"messages": 0, "fields": 0, "enums": 0, "values": 0}
    if fd.package != schema.package:
        problems.append("package: python onnx has %r, ours %r" % (fd.package, schema.package))
    if fd.syntax != schema.syntax:
        problems.append("syntax: python onnx has %r, ours %r" % (fd.syntax, schema.syntax))
    theirs_msgs = set()
    for kind, d in walk_descriptors(fd):
        if kind == "enum":
            counts["enums"] += 1
            ours = schema.enums.get(d.full_name)
            if ours is None:
                problems.append("enum %s: missing" % d.full_name)
                continue
            for v in d.values:
                counts["values"] += 1
                if v.name not in ours:
                    problems.append("enum %s: value %s = %d missing" % (d.full_name, v.name,
                                                                        v.number))
                elif d.full_name == "onnx.Version" and v.name == "IR_VERSION":
                    if ours[v.name] < v.number:
                        problems.append("enum onnx.Version: IR_VERSION is %d, older than python "
                                        "onnx's %d" % (ours[v.name], v.number))
                elif ours[v.name] != v.number:
                    problems.append("enum %s: %s is %d in ours, %d in python onnx" % (
                        d.full_name, v.name, ours[v.name], v.number))
            known = {v.name for v in d.values}
            newer += ["enum %s: %s = %d" % (d.full_name, n, x) for n, x in sorted(ours.items())
                      if n not in known]
            continue
        counts["messages"] += 1
        theirs_msgs.add(d.full_name)
        ours = schema.messages.get(d.full_name)
        if ours is None:
            problems.append("message %s: missing" % d.full_name)
            continue
        their_numbers = {f.number: f.name for f in d.fields}
        for f in d.fields:
            counts["fields"] += 1
            where = "%s.%s" % (d.full_name, f.name)
            o = ours.get(f.name)
            if o is None:
                problems.append("%s = %d: missing" % (where, f.number))
                continue
            if o["number"] != f.number:
                problems.append("%s: number %d in ours, %d in python onnx" % (
                    where, o["number"], f.number))
            if o["label"] != f.label:
                problems.append("%s: label %s in ours, %s in python onnx" % (
                    where, LABEL_NAMES[o["label"]], LABEL_NAMES.get(f.label, f.label)))
            their_type_name = (f.message_type.full_name if f.message_type else
                               f.enum_type.full_name if f.enum_type else None)
            if o["type"] != f.type or o["type_name"] != their_type_name:
                problems.append("%s: type %s in ours, %s in python onnx" % (
                    where, type_str(o["type"], o["type_name"]), type_str(f.type, their_type_name)))
            their_oneof = f.containing_oneof.name if f.containing_oneof else None
            if o["oneof"] != their_oneof:
                problems.append("%s: oneof %s in ours, %s in python onnx" % (
                    where, o["oneof"], their_oneof))
            if o["packed"] != is_packed(f):
                problems.append("%s: packed=%s in ours, %s in python onnx" % (
                    where, o["packed"], is_packed(f)))
        for name, o in sorted(ours.items(), key=lambda kv: kv[1]["number"]):
            if name in {f.name for f in d.fields}:
                continue
            if o["number"] in their_numbers:
                problems.append("%s.%s = %d: number belongs to field %s in python onnx" % (
                    d.full_name, name, o["number"], their_numbers[o["number"]]))
            else:
                newer.append("field %s.%s = %d" % (d.full_name, name, o["number"]))
    newer += ["message %s" % m for m in sorted(schema.messages) if m not in theirs_msgs]
    return problems, newer, counts


def main(argv):
    path = argv[1] if len(argv) > 1 else DEFAULT_PROTO
    try:
        schema = parse(path)
    except (OSError, ParseError) as e:
        print("%s: %s" % (path, e), file=sys.stderr)
        return 2
    if len(schema.messages) < 10:
        print("%s: parsed only %d messages; the parser missed something" % (
            path, len(schema.messages)), file=sys.stderr)
        return 2
    problems, newer, counts = check(schema, onnx.ModelProto.DESCRIPTOR.file)
    print("checked %(messages)d messages, %(fields)d fields, %(enums)d enums, %(values)d enum "
          "values against python onnx %(v)s (%(file)s)" % dict(
              counts, v=onnx.__version__, file=onnx.ModelProto.DESCRIPTOR.file.name))
    for n in newer:
        print("  newer in ours: " + n)
    for p in problems:
        print("MISMATCH " + p, file=sys.stderr)
    if problems:
        print("%d mismatches between %s and python onnx" % (len(problems), path), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
