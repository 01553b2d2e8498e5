/*
 * onnxc_model_load*: bytes -> checked wire format -> protobuf-c unpack ->
 * model-level checks (IR version, opsets) -> graph (graph_build.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "graph_build.h"
#include "keras.h"
#include "proto_scan.h"

const char *onnxc_version(void) { return "0.1.0"; }

void onnxc_limits_default(onnxc_limits *limits)
{
    limits->max_file_bytes = 4ull << 30;
    limits->max_tensor_bytes = 4ull << 30;
    limits->max_total_bytes = 16ull << 30;
    limits->max_nodes = 10000000;
    limits->max_graph_depth = 16;
}

/* protobuf-c allocations go through oc_malloc so failure injection covers
 * them. protobuf-c reports any failure as NULL; an unpack allocator given a
 * bool (allocator_data) records whether an allocation failed, so that an
 * out-of-memory is not reported as a parse error. */
static void *pb_alloc(void *ud, size_t size)
{
    void *p = oc_malloc(size);
    if (!p && ud) *(bool *)ud = true;
    return p;
}
static void pb_free(void *ud, void *p) { (void)ud; oc_free(p); }
static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

void onnxc_model_free(onnxc_model *m)
{
    if (!m) return;
    oc_graph_free(&m->graph);
    for (size_t i = 0; i < m->n_external_buffers; i++) oc_aligned_free(m->external_buffers[i]);
    oc_free(m->external_buffers);
    if (m->proto) onnx__model_proto__free_unpacked(m->proto, &pb_allocator);
    oc_free(m->label);
    oc_free(m->base_dir);
    oc_free(m);
}

#define MIN_IR_VERSION 3
#define MAX_IR_VERSION 11
#define MAX_OPSET_ONNX ONNXC_MAX_OPSET
#define MAX_OPSET_IMPORTS 256

static onnxc_status check_model_header(onnxc_model *m, onnxc_error *err)
{
    const Onnx__ModelProto *p = m->proto;
    if (!p->has_ir_version)
        return oc_fail(err, ONNXC_ERR_MODEL, "ir_version is missing");
    if (p->ir_version < MIN_IR_VERSION || p->ir_version > MAX_IR_VERSION)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "ir_version %lld is outside the supported range [%d, %d]",
                       (long long)p->ir_version, MIN_IR_VERSION, MAX_IR_VERSION);
    if (p->n_opset_import == 0)
        return oc_fail(err, ONNXC_ERR_MODEL, "opset_import is missing; expected at least the default domain");
    /* Real models import a handful of domains. The duplicate check below and
     * the per-node domain lookup in graph_build.c are linear in this count,
     * so a file with 100k entries would otherwise take minutes. */
    if (p->n_opset_import > MAX_OPSET_IMPORTS)
        return oc_fail(err, ONNXC_ERR_LIMIT, "opset_import has %zu entries; expected at most %d",
                       p->n_opset_import, MAX_OPSET_IMPORTS);
    for (size_t i = 0; i < p->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = p->opset_import[i];
        const char *dom = o->domain ? o->domain : "";
        if (!strcmp(dom, "ai.onnx")) dom = "";
        for (size_t j = 0; j < i; j++) {
            const char *d2 = p->opset_import[j]->domain ? p->opset_import[j]->domain : "";
            if (!strcmp(d2, "ai.onnx")) d2 = "";
            if (!strcmp(dom, d2))
                return oc_fail(err, ONNXC_ERR_MODEL, "opset_import lists domain '%s' twice",
                               dom[0] ? dom : "ai.onnx");
        }
        if (!o->has_version || o->version < 1 || o->version > 100000)
            return oc_fail(err, ONNXC_ERR_MODEL, "opset_import for domain '%s' has unusable version %lld",
                           dom[0] ? dom : "ai.onnx", (long long)(o->has_version ? o->version : 0));
        if (!dom[0]) m->opset_onnx = o->version;
        else if (!strcmp(dom, "ai.onnx.preview.training")) m->opset_training = o->version;
        else if (!strcmp(dom, "ai.onnx.ml")) m->opset_ml = o->version;
    }
    if (m->opset_onnx > MAX_OPSET_ONNX)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "ai.onnx opset %lld is newer than the newest onnxc supports (%d)",
                       (long long)m->opset_onnx, MAX_OPSET_ONNX);
    if (!p->graph) return oc_fail(err, ONNXC_ERR_MODEL, "the model has no graph");
    return ONNXC_OK;
}

static onnxc_status load_bytes(const uint8_t *data, size_t size, const char *label,
                               const char *base_dir, const onnxc_limits *limits,
                               onnxc_model **out, onnxc_error *err)
{
    onnxc_limits lim;
    if (limits) lim = *limits;
    else onnxc_limits_default(&lim);
    if (size > lim.max_file_bytes)
        return oc_fail(err, ONNXC_ERR_LIMIT, "%s: %zu bytes exceed max_file_bytes (%llu)", label,
                       size, (unsigned long long)lim.max_file_bytes);
    if (size == 0) return oc_fail(err, ONNXC_ERR_PARSE, "%s: empty file; expected an ONNX ModelProto", label);
    oc_scan_stats stats;
    OC_TRY(oc_proto_scan(data, size, &onnx__model_proto__descriptor, &lim, label, &stats, err));

    onnxc_model *m = oc_calloc(1, sizeof *m);
    if (!m) return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", label);
    m->limits = lim;
    m->label = oc_strdup(label);
    m->base_dir = base_dir ? oc_strdup(base_dir) : NULL;
    if (!m->label || (base_dir && !m->base_dir)) {
        onnxc_model_free(m);
        return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", label);
    }
    bool unpack_nomem = false;
    ProtobufCAllocator unpack_allocator = {pb_alloc, pb_free, &unpack_nomem};
    m->proto = onnx__model_proto__unpack(&unpack_allocator, size, data);
    if (!m->proto) {
        onnxc_model_free(m);
        if (unpack_nomem)
            return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory unpacking the ModelProto", label);
        return oc_fail(err, ONNXC_ERR_PARSE, "%s: not a valid ONNX ModelProto (protobuf unpack failed)", label);
    }
    onnxc_status st = check_model_header(m, err);
    if (st == ONNXC_OK) st = oc_graph_build(m, err);
    if (st != ONNXC_OK) {
        oc_prefix(err, "%s", label);
        onnxc_model_free(m);
        return st;
    }
    *out = m;
    return ONNXC_OK;
}

onnxc_status onnxc_model_load_memory(const void *data, size_t size, const char *base_dir,
                                     const char *label, const onnxc_limits *limits,
                                     onnxc_model **out, onnxc_error *err)
{
    if (!out || (!data && size)) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_model_load_memory: NULL argument");
    *out = NULL;
    oc_error_clear(err);
    return load_bytes(data, size, label ? label : "<memory>", base_dir, limits, out, err);
}

onnxc_status oc_read_file(const char *path, uint64_t max, uint8_t **data, size_t *size,
                              onnxc_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return oc_fail(err, ONNXC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return oc_fail(err, ONNXC_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return oc_fail(err, ONNXC_ERR_LIMIT, "%s: %lld bytes exceed max_file_bytes (%llu)", path,
                       (long long)st.st_size, (unsigned long long)max);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = oc_malloc(n ? n : 1);
    if (!buf) {
        close(fd);
        return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            oc_free(buf);
            return oc_fail(err, ONNXC_ERR_IO, "%s: read failed: %s", path, r < 0 ? strerror(e) : "file shrank");
        }
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *size = n;
    return ONNXC_OK;
}

static char *dir_of(const char *path)
{
    char *copy = oc_strdup(path);
    if (!copy) return NULL;
    char *d = oc_strdup(dirname(copy));
    oc_free(copy);
    return d;
}

onnxc_status onnxc_model_load_keras(const char *path, const char *arch_spec,
                                    const onnxc_limits *limits, onnxc_model **out,
                                    onnxc_error *err)
{
    if (!path || !out) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_model_load_keras: NULL argument");
    *out = NULL;
    oc_error_clear(err);
    onnxc_limits lim;
    if (limits) lim = *limits;
    else onnxc_limits_default(&lim);
    void *bytes = NULL;
    size_t size = 0;
    OC_TRY(oc_keras_to_onnx(path, arch_spec, &lim, &bytes, &size, err));
    onnxc_status st = load_bytes(bytes, size, path, NULL, &lim, out, err);
    oc_free(bytes);
    return st;
}

onnxc_status onnxc_model_load(const char *path, const onnxc_limits *limits, onnxc_model **out,
                              onnxc_error *err)
{
    if (!path || !out) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_model_load: NULL argument");
    *out = NULL;
    oc_error_clear(err);
    onnxc_limits lim;
    if (limits) lim = *limits;
    else onnxc_limits_default(&lim);
    uint8_t *data = NULL;
    size_t size = 0;
    OC_TRY(oc_read_file(path, lim.max_file_bytes, &data, &size, err));
    if (oc_keras_sniff(data, size)) {
        oc_free(data);
        return onnxc_model_load_keras(path, NULL, &lim, out, err);
    }
    char *dir = dir_of(path);
    onnxc_status st;
    if (!dir) st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", path);
    else st = load_bytes(data, size, path, dir, &lim, out, err);
    oc_free(dir);
    oc_free(data);
    return st;
}
