/*
 * Standalone TensorProto files (layout in io_tensor_pb.h). Unlike a model
 * initializer, which may alias the proto's storage so training can update
 * it in place, a loaded tensor is a fresh 64-byte aligned buffer the caller
 * owns, and the proto is freed at once.
 */
#include "io_tensor_pb.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "atomic_file.h"
#include "error.h"
#include "graph.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "io_tensor_pb.c assumes a little-endian host (raw_data is little-endian)"
#endif

/* A tensor file is one tensor: the default per-tensor limit plus framing. */
#define PB_MAX_FILE_BYTES (((uint64_t)4 << 30) + ((uint64_t)1 << 20))

/* protobuf-c allocations through oc_malloc, remembering whether one failed
 * so that an out-of-memory unpack is not reported as a parse error. */
static void *pb_alloc(void *data, size_t size)
{
    void *p = oc_malloc(size);
    if (!p) *(bool *)data = true;
    return p;
}

static void pb_free(void *data, void *p)
{
    (void)data;
    oc_free(p);
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                  */

/* Checks and decoding are those of model initializers (oc_tensor_from_proto,
 * tensor_proto.c), so both accept the same files; this adds the refusal of
 * external data and takes a private, aligned copy of the values. */
static onnxc_status decode(const Onnx__TensorProto *tp, const char *label, onnxc_tensor *out,
                           onnxc_error *err)
{
    if (tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL || tp->n_external_data)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                       "%s: tensor uses external data, expected its values inside the file",
                       label);
    oc_tensor t;
    bool owned;
    onnxc_status st = oc_tensor_from_proto(tp, NULL, &t, &owned, label, err);
    if (st == ONNXC_ERR_MODEL) {
        /* "Invalid model" reads oddly for a lone tensor file: it is malformed. */
        st = ONNXC_ERR_PARSE;
        if (err) err->status = st;
    }
    if (st != ONNXC_OK) return st;
    size_t bytes;
    if (!oc_shape_bytes(&t.shape, t.dtype, &bytes)) {
        if (owned) oc_aligned_free(t.data);
        return oc_fail(err, ONNXC_ERR_PARSE, "%s: tensor size overflows", label);
    }
    if (owned) {
        out->data = t.data; /* oc_aligned_alloc'd by oc_tensor_from_proto */
    } else {
        out->data = oc_aligned_alloc(bytes);
        if (!out->data)
            return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory for %zu bytes of tensor data",
                           label, bytes);
        if (bytes) memcpy(out->data, t.data, bytes);
    }
    out->dtype = t.dtype;
    out->rank = t.shape.rank;
    memcpy(out->dims, t.shape.dims, sizeof out->dims);
    out->capacity = bytes;
    /* Raw bool bytes other than 0/1 would still be "true"; kernels want 0/1. */
    if (t.dtype == ONNXC_BOOL) {
        uint8_t *b = out->data;
        for (size_t i = 0; i < bytes; i++) b[i] = b[i] != 0;
    }
    return ONNXC_OK;
}

onnxc_status oc_tensor_pb_parse(const void *buf, size_t n, const char *label,
                                onnxc_tensor *out, onnxc_error *err)
{
    memset(out, 0, sizeof *out);
    if (!label) label = "<memory>";
    bool oom = false;
    ProtobufCAllocator alloc = {pb_alloc, pb_free, &oom};
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(&alloc, n, buf);
    if (!tp) {
        if (oom)
            return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory decoding the tensor", label);
        return oc_fail(err, ONNXC_ERR_PARSE,
                       "%s: not a valid serialized TensorProto (%zu bytes)", label, n);
    }
    onnxc_status st = decode(tp, label, out, err);
    onnx__tensor_proto__free_unpacked(tp, &alloc);
    if (st != ONNXC_OK) memset(out, 0, sizeof *out);
    return st;
}

onnxc_status oc_tensor_pb_read(const char *path, onnxc_tensor *out, onnxc_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return oc_fail(err, ONNXC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    void *buf = NULL;
    size_t n = 0;
    onnxc_status st = ONNXC_OK;
    if (fstat(fileno(fp), &sb) != 0)
        st = oc_fail(err, ONNXC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = oc_fail(err, ONNXC_ERR_IO, "%s: expected a regular file", path);
    else if ((uint64_t)sb.st_size > PB_MAX_FILE_BYTES || (uint64_t)sb.st_size > SIZE_MAX)
        st = oc_fail(err, ONNXC_ERR_LIMIT, "%s: file is %llu bytes, limit is %llu", path,
                     (unsigned long long)sb.st_size, (unsigned long long)PB_MAX_FILE_BYTES);
    if (st == ONNXC_OK) {
        n = (size_t)sb.st_size;
        buf = oc_malloc(n);
        if (!buf) st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory for %zu bytes", path, n);
    }
    if (st == ONNXC_OK && n && fread(buf, 1, n, fp) != n)
        st = oc_fail(err, ONNXC_ERR_IO, "%s: read failed: %s", path,
                     ferror(fp) ? strerror(errno) : "file shrank while reading");
    fclose(fp);
    if (st == ONNXC_OK) st = oc_tensor_pb_parse(buf, n, path, out, err);
    oc_free(buf);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                  */

/* A TensorProto whose fields alias `t` (nothing to free). */
static onnxc_status make_proto(const onnxc_tensor *t, const char *label, Onnx__TensorProto *tp,
                               onnxc_error *err)
{
    onnx__tensor_proto__init(tp);
    if (!oc_dtype_known((int)t->dtype) || oc_dtype_size(t->dtype) == 0 ||
        t->dtype == ONNXC_COMPLEX64 || t->dtype == ONNXC_COMPLEX128)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "%s: dtype %s cannot be written to .pb", label,
                       oc_dtype_name(t->dtype));
    if (t->rank < 0 || t->rank > ONNXC_MAX_RANK)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "%s: rank %d, expected 0..%d", label, t->rank,
                       ONNXC_MAX_RANK);
    oc_shape shape = {.rank = t->rank};
    memcpy(shape.dims, t->dims, sizeof shape.dims);
    size_t bytes;
    if (!oc_shape_bytes(&shape, t->dtype, &bytes))
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "%s: negative or overflowing dims", label);
    if (bytes && !t->data)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "%s: tensor data is NULL, expected %zu bytes",
                       label, bytes);
    tp->n_dims = (size_t)t->rank;
    tp->dims = (int64_t *)t->dims;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    tp->has_raw_data = 1;
    tp->raw_data.len = bytes;
    tp->raw_data.data = (uint8_t *)t->data;
    tp->name = (char *)t->name;
    return ONNXC_OK;
}

onnxc_status oc_tensor_pb_pack(const onnxc_tensor *t, void **buf, size_t *n, onnxc_error *err)
{
    *buf = NULL;
    *n = 0;
    Onnx__TensorProto tp;
    OC_TRY(make_proto(t, t->name ? t->name : "tensor", &tp, err));
    size_t size = onnx__tensor_proto__get_packed_size(&tp);
    void *p = oc_malloc(size);
    if (!p) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory for a %zu-byte TensorProto", size);
    *n = onnx__tensor_proto__pack(&tp, p);
    *buf = p;
    return ONNXC_OK;
}

/* protobuf-c output straight into the temporary file: no second copy of a
 * large tensor in memory. */
typedef struct file_sink {
    ProtobufCBuffer base;
    FILE *fp;
    bool failed;
} file_sink;

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    file_sink *s = (file_sink *)b;
    if (!s->failed && len && fwrite(data, 1, len, s->fp) != len) s->failed = true;
}

onnxc_status oc_tensor_pb_write(const char *path, const onnxc_tensor *t, onnxc_error *err)
{
    Onnx__TensorProto tp;
    OC_TRY(make_proto(t, path, &tp, err));
    oc_atomic_file f;
    OC_TRY(oc_atomic_open(&f, path, err));
    file_sink sink = {.base = {sink_append}, .fp = f.fp};
    protobuf_c_message_pack_to_buffer(&tp.base, &sink.base);
    if (sink.failed) {
        int e = errno;
        oc_atomic_abort(&f);
        return oc_fail(err, ONNXC_ERR_IO, "%s: write failed, old file kept: %s", path,
                       strerror(e));
    }
    return oc_atomic_commit(&f, err);
}
