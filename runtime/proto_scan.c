#include "proto_scan.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "onnx.pb-c.h"

typedef struct scan {
    const uint8_t *base;
    const onnxc_limits *limits;
    const char *label;
    oc_scan_stats *stats;
    uint32_t max_depth;
    /* Estimate of what protobuf-c will allocate, and its cap (see charge). */
    uint64_t unpacked, max_unpacked;
    onnxc_error *err;
    /* Field path for messages, e.g. "graph.node[3].attribute". */
    const char *path[80];
} scan;

static onnxc_status fail_at(scan *s, const uint8_t *p, int depth, onnxc_status st, const char *what)
{
    char path[512] = "";
    size_t used = 0;
    for (int i = 0; i < depth && i < 80 && used + 2 < sizeof path; i++) {
        int n = snprintf(path + used, sizeof path - used, "%s%s", i ? "." : "", s->path[i]);
        if (n > 0) used += (size_t)n;
    }
    return oc_fail(s->err, st, "%s: %s at byte %zu%s%s", s->label, what, (size_t)(p - s->base),
                   used ? " in " : "", path);
}

/* Reads a varint of at most 10 bytes; returns bytes consumed or 0 on error. */
static size_t read_varint(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 10; i++) {
        if (p + i >= end) return 0;
        uint8_t b = p[i];
        if (i == 9 && b > 1) return 0; /* would overflow 64 bits */
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return i + 1;
        }
    }
    return 0;
}

static onnxc_status scan_message(scan *s, const uint8_t *p, const uint8_t *end,
                                 const ProtobufCMessageDescriptor *d, int depth);

/*
 * protobuf-c allocates a struct for every message, a copy of every string,
 * bytes and unknown field, and an array slot for every repeated element. An
 * empty AttributeProto costs 2 bytes on the wire and ~270 bytes unpacked, so
 * a 20 MB file of them would take gigabytes and most of a minute of page
 * faults. The scan adds up that cost (malloc's per-block overhead included)
 * and refuses files whose structures would outgrow their size many times
 * over. Real models stay under 15x even when they are all graph (tiny
 * nodes, value_info for every tensor, weights elsewhere); hostile ones pass
 * 100x.
 */
#define UNPACK_FACTOR 32
#define UNPACK_SLACK (64ull << 20)
#define ALLOC_OVERHEAD 16

static onnxc_status charge(scan *s, const uint8_t *p, int depth, uint64_t bytes)
{
    s->unpacked += bytes;
    if (s->unpacked <= s->max_unpacked) return ONNXC_OK;
    char what[160];
    snprintf(what, sizeof what,
             "the file would unpack into more than %llu bytes of protobuf structures "
             "(%dx its size plus %llu MiB); refusing it as hostile",
             (unsigned long long)s->max_unpacked, UNPACK_FACTOR,
             (unsigned long long)(UNPACK_SLACK >> 20));
    return fail_at(s, p, depth, ONNXC_ERR_LIMIT, what);
}

/* Elements in a packed repeated field of `len` bytes. */
static uint64_t packed_count(const ProtobufCFieldDescriptor *f, const uint8_t *p, uint64_t len)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_DOUBLE:
        return len / 8;
    case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_FLOAT:
        return len / 4;
    default: {
        uint64_t n = 0; /* one varint ends at each byte without the high bit */
        for (uint64_t i = 0; i < len; i++) n += !(p[i] & 0x80);
        return n;
    }
    }
}

/*
 * 32-bit integer fields arrive as 64-bit varints, and protobuf readers keep
 * the low 32 bits: data_type 2^32+1 would silently read as FLOAT. A value
 * that does not fit the field's type is refused instead, and so is an enum
 * value the schema does not define (a data_location of 7 is neither
 * DEFAULT nor EXTERNAL).
 */
static bool varint_fits(const ProtobufCFieldDescriptor *f, uint64_t v)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
        return (int64_t)v >= INT32_MIN && (int64_t)v <= INT32_MAX;
    case PROTOBUF_C_TYPE_ENUM:
        return (int64_t)v >= INT32_MIN && (int64_t)v <= INT32_MAX &&
               protobuf_c_enum_descriptor_get_value(f->descriptor, (int)(int64_t)v) != NULL;
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_SINT32:
        return v <= UINT32_MAX;
    default:
        return true;
    }
}

static onnxc_status check_varint(scan *s, const uint8_t *at, int depth, const ProtobufCFieldDescriptor *f,
                                 uint64_t v)
{
    if (varint_fits(f, v)) return ONNXC_OK;
    char what[200];
    snprintf(what, sizeof what, "field '%s' holds %lld, outside its %s range%s", f->name, (long long)v,
             f->type == PROTOBUF_C_TYPE_ENUM ? "enum" : "32-bit",
             f->type == PROTOBUF_C_TYPE_ENUM ? " (not a value the schema defines)" : "");
    return fail_at(s, at, depth, ONNXC_ERR_PARSE, what);
}

/* Every varint of a packed repeated 32-bit or enum field. */
static onnxc_status check_packed(scan *s, const uint8_t *p, uint64_t len, int depth,
                                 const ProtobufCFieldDescriptor *f)
{
    if (f->type != PROTOBUF_C_TYPE_INT32 && f->type != PROTOBUF_C_TYPE_ENUM &&
        f->type != PROTOBUF_C_TYPE_UINT32 && f->type != PROTOBUF_C_TYPE_SINT32)
        return ONNXC_OK;
    const uint8_t *end = p + len;
    while (p < end) {
        uint64_t v;
        size_t n = read_varint(p, end, &v);
        if (!n) return fail_at(s, p, depth, ONNXC_ERR_PARSE, "truncated or overlong varint in a packed field");
        OC_TRY(check_varint(s, p, depth, f, v));
        p += n;
    }
    return ONNXC_OK;
}

static bool is_tensor_payload(const ProtobufCMessageDescriptor *d, uint32_t id)
{
    /* raw_data, float/int32/int64/double/uint64 data of TensorProto */
    return d == &onnx__tensor_proto__descriptor &&
           (id == 9 || id == 4 || id == 5 || id == 7 || id == 10 || id == 11);
}

static onnxc_status scan_field_bytes(scan *s, const uint8_t *p, uint64_t len,
                                     const ProtobufCMessageDescriptor *d,
                                     const ProtobufCFieldDescriptor *f, int depth)
{
    if (!f) return ONNXC_OK; /* unknown field: kept verbatim, contents opaque */
    if (f->label == PROTOBUF_C_LABEL_REPEATED && f->type != PROTOBUF_C_TYPE_MESSAGE &&
        f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES) {
        OC_TRY(charge(s, p, depth, 8 * packed_count(f, p, len)));
        OC_TRY(check_packed(s, p, len, depth, f));
    }
    else if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES)
        OC_TRY(charge(s, p, depth, len + 1 + ALLOC_OVERHEAD));
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        if ((uint32_t)depth + 1 > s->max_depth)
            return fail_at(s, p, depth, ONNXC_ERR_LIMIT,
                           "messages nested too deeply (limit from max_graph_depth)");
        if (depth < 80) s->path[depth] = f->name;
        return scan_message(s, p, p + len, f->descriptor, depth + 1);
    }
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        /* protobuf-c copies strings NUL-terminated; an embedded NUL would
         * silently truncate a name, so refuse it here. */
        if (memchr(p, 0, len))
            return fail_at(s, p, depth, ONNXC_ERR_PARSE, "string contains a NUL byte");
    }
    if (is_tensor_payload(d, f->id)) {
        if (len > s->limits->max_tensor_bytes)
            return fail_at(s, p, depth, ONNXC_ERR_LIMIT, "tensor data larger than max_tensor_bytes");
        s->stats->tensor_bytes += len;
        if (s->stats->tensor_bytes > s->limits->max_total_bytes)
            return fail_at(s, p, depth, ONNXC_ERR_LIMIT, "tensor data exceeds max_total_bytes");
    }
    return ONNXC_OK;
}

static onnxc_status scan_message(scan *s, const uint8_t *p, const uint8_t *end,
                                 const ProtobufCMessageDescriptor *d, int depth)
{
    if (d == &onnx__node_proto__descriptor && ++s->stats->nodes > s->limits->max_nodes)
        return fail_at(s, p, depth, ONNXC_ERR_LIMIT, "more nodes than max_nodes");
    OC_TRY(charge(s, p, depth, d->sizeof_message + ALLOC_OVERHEAD));
    while (p < end) {
        const uint8_t *field_start = p;
        uint64_t tag;
        size_t n = read_varint(p, end, &tag);
        if (!n) return fail_at(s, p, depth, ONNXC_ERR_PARSE, "truncated or overlong field tag");
        p += n;
        uint64_t id = tag >> 3;
        unsigned wire = (unsigned)(tag & 7);
        if (id == 0 || id > 536870911)
            return fail_at(s, field_start, depth, ONNXC_ERR_PARSE, "invalid field number");
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(d, (unsigned)id);
        /* A repeated field's array slot; an unknown field's record and copy
         * (its bytes are charged below, once the length is known). */
        if (!f)
            OC_TRY(charge(s, field_start, depth,
                          sizeof(ProtobufCMessageUnknownField) + 8 + ALLOC_OVERHEAD));
        else if (f->label == PROTOBUF_C_LABEL_REPEATED)
            OC_TRY(charge(s, field_start, depth, 8));
        uint64_t v;
        switch (wire) {
        case 0:
            n = read_varint(p, end, &v);
            if (!n) return fail_at(s, p, depth, ONNXC_ERR_PARSE, "truncated or overlong varint");
            if (f) OC_TRY(check_varint(s, field_start, depth, f, v));
            p += n;
            break;
        case 1:
            if (end - p < 8) return fail_at(s, p, depth, ONNXC_ERR_PARSE, "truncated 64-bit field");
            p += 8;
            break;
        case 5:
            if (end - p < 4) return fail_at(s, p, depth, ONNXC_ERR_PARSE, "truncated 32-bit field");
            p += 4;
            break;
        case 2:
            n = read_varint(p, end, &v);
            if (!n) return fail_at(s, p, depth, ONNXC_ERR_PARSE, "truncated or overlong length");
            p += n;
            if (v > (uint64_t)(end - p))
                return fail_at(s, field_start, depth, ONNXC_ERR_PARSE,
                               "length prefix runs past the end of the data (truncated file?)");
            if (!f) OC_TRY(charge(s, field_start, depth, v));
            if (f && f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING &&
                f->type != PROTOBUF_C_TYPE_BYTES && f->label != PROTOBUF_C_LABEL_REPEATED)
                return fail_at(s, field_start, depth, ONNXC_ERR_PARSE,
                               "length-delimited data for a scalar field");
            {
                onnxc_status st = scan_field_bytes(s, p, v, d, f, depth);
                if (st != ONNXC_OK) return st;
            }
            p += v;
            break;
        default:
            return fail_at(s, field_start, depth, ONNXC_ERR_PARSE,
                           "unsupported wire type (groups or reserved)");
        }
        /* A known field must arrive with a wire type that fits its type;
         * protobuf-c would reject it without saying where. */
        if (f && wire != 2) {
            bool ok;
            switch (f->type) {
            case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_DOUBLE:
                ok = wire == 1; break;
            case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_FLOAT:
                ok = wire == 5; break;
            case PROTOBUF_C_TYPE_MESSAGE: case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_BYTES:
                ok = false; break;
            default:
                ok = wire == 0; break;
            }
            if (!ok)
                return fail_at(s, field_start, depth, ONNXC_ERR_PARSE,
                               "wire type does not match the field's type");
        }
    }
    return ONNXC_OK;
}

onnxc_status oc_proto_scan(const uint8_t *data, size_t size,
                           const ProtobufCMessageDescriptor *desc, const onnxc_limits *limits,
                           const char *label, oc_scan_stats *stats, onnxc_error *err)
{
    scan s = {.base = data, .limits = limits, .label = label, .stats = stats, .err = err};
    memset(stats, 0, sizeof *stats);
    /* Each subgraph level costs three messages (Graph > Node > Attribute >
     * Graph); types and tensors add a few more. */
    uint64_t depth = 8 + 3 * (uint64_t)limits->max_graph_depth;
    s.max_depth = depth > 78 ? 78 : (uint32_t)depth;
    s.max_unpacked = UNPACK_FACTOR * (uint64_t)size + UNPACK_SLACK;
    return scan_message(&s, data, data + size, desc, 0);
}
