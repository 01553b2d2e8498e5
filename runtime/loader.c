/*
 * onnxc_model_load*: bytes -> checked wire format -> protobuf-c unpack ->
 * model-level checks (IR version, opsets) -> graph (graph_build.c).
 *
 * Files are not read into memory whole. protobuf-c copies every bytes field
 * it unpacks, so a file image plus its unpacked copy would hold each weight
 * twice (peak RSS 2x the file). Instead the file is mapped read-only, the
 * wire-format scan runs over the mapping (it only touches the framing, not
 * tensor payloads), and large payloads of the main graph's initializers are
 * left out of the image protobuf-c unpacks; each is then read with pread()
 * straight into the buffer the unpacked TensorProto owns (load_mapped).
 * Every weight byte is copied once, from the page cache into its final
 * place, and peak RSS stays near 1x the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
 * out-of-memory is not reported as a parse error. Blocks of 1 KiB and more
 * (a tensor's raw_data, copied out of the file by the unpack) start on a
 * cache line: a weight read in place by the GEMM (sgemm.c,
 * reads_b_in_place) then costs 2 cache lines per 32-float panel row, not 3. */
#define PB_ALIGN_FROM 1024
static void *pb_alloc(void *ud, size_t size)
{
    void *p = oc_malloc_aligned_from(size, PB_ALIGN_FROM);
    if (!p && ud) *(bool *)ud = true;
    return p;
}
static void pb_free(void *ud, void *p) { (void)ud; oc_free(p); }
static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

void onnxc_model_free(onnxc_model *m)
{
    if (!m) return;
    oc_model_free_packs(m);
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

/* A new, empty model that owns copies of label and base_dir. */
static onnxc_status new_model(const char *label, const char *base_dir, const onnxc_limits *lim,
                              onnxc_model **out, onnxc_error *err)
{
    onnxc_model *m = oc_calloc(1, sizeof *m);
    if (!m) return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", label);
    m->limits = *lim;
    m->label = oc_strdup(label);
    m->base_dir = base_dir ? oc_strdup(base_dir) : NULL;
    if (!m->label || (base_dir && !m->base_dir)) {
        onnxc_model_free(m);
        return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", label);
    }
    *out = m;
    return ONNXC_OK;
}

/* protobuf-c unpack of checked wire bytes into m->proto. */
static onnxc_status unpack_into(onnxc_model *m, const uint8_t *data, size_t size, onnxc_error *err)
{
    bool unpack_nomem = false;
    ProtobufCAllocator unpack_allocator = {pb_alloc, pb_free, &unpack_nomem};
    m->proto = onnx__model_proto__unpack(&unpack_allocator, size, data);
    if (m->proto) return ONNXC_OK;
    if (unpack_nomem)
        return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory unpacking the ModelProto", m->label);
    return oc_fail(err, ONNXC_ERR_PARSE, "%s: not a valid ONNX ModelProto (protobuf unpack failed)", m->label);
}

/* Model-level checks and the graph; frees m on failure, else *out = m. */
static onnxc_status finish_model(onnxc_model *m, onnxc_model **out, onnxc_error *err)
{
    onnxc_status st = check_model_header(m, err);
    if (st == ONNXC_OK) st = oc_graph_build(m, err);
    if (st != ONNXC_OK) {
        oc_prefix(err, "%s", m->label);
        onnxc_model_free(m);
        return st;
    }
    *out = m;
    return ONNXC_OK;
}

/* The file-level limits every path applies before scanning. */
static onnxc_status check_size(size_t size, const char *label, const onnxc_limits *lim, onnxc_error *err)
{
    if (size > lim->max_file_bytes)
        return oc_fail(err, ONNXC_ERR_LIMIT, "%s: %zu bytes exceed max_file_bytes (%llu)", label,
                       size, (unsigned long long)lim->max_file_bytes);
    if (size == 0) return oc_fail(err, ONNXC_ERR_PARSE, "%s: empty file; expected an ONNX ModelProto", label);
    return ONNXC_OK;
}

static onnxc_status load_bytes(const uint8_t *data, size_t size, const char *label,
                               const char *base_dir, const onnxc_limits *limits,
                               onnxc_model **out, onnxc_error *err)
{
    onnxc_limits lim;
    if (limits) lim = *limits;
    else onnxc_limits_default(&lim);
    OC_TRY(check_size(size, label, &lim, err));
    oc_scan_stats stats;
    OC_TRY(oc_proto_scan(data, size, &onnx__model_proto__descriptor, &lim, label, &stats, err));
    onnxc_model *m;
    OC_TRY(new_model(label, base_dir, &lim, &m, err));
    onnxc_status st = unpack_into(m, data, size, err);
    if (st != ONNXC_OK) {
        onnxc_model_free(m);
        return st;
    }
    return finish_model(m, out, err);
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

/* ------------------------------------------------------------------------ */
/* Loading a file without holding its weights twice                          */

/*
 * Payloads smaller than this stay in the unpacked image: lifting them saves
 * little and costs a pread each.
 */
#define LIFT_MIN_BYTES 4096

/* Field numbers (proto/onnx.proto). */
#define MODEL_GRAPH 7        /* ModelProto.graph */
#define GRAPH_INITIALIZER 5  /* GraphProto.initializer */
#define TENSOR_FLOAT_DATA 4  /* TensorProto.float_data (packed) */
#define TENSOR_RAW_DATA 9    /* TensorProto.raw_data */

/* A tensor payload left out of the unpacked image, to be read from the file. */
typedef struct lifted {
    size_t init;             /* index in graph.initializer */
    bool float_data;         /* packed float_data, else raw_data */
    uint64_t offset, len;    /* bytes of the payload in the file */
} lifted;

typedef struct lift_state {
    const uint8_t *base;     /* the mapped file */
    lifted *items;           /* [n], in file order */
    size_t n, cap;
    size_t inits;            /* initializers emitted so far */
    size_t candidates;       /* payloads a measuring pass would lift */
    bool nomem, bad_framing;
} lift_state;

/* One field of a message the scan has already checked. */
typedef struct wire_field {
    uint32_t id;
    unsigned wire;
    const uint8_t *start, *tag_end; /* tag bytes [start, tag_end) */
    const uint8_t *payload, *end;   /* wire 2: the bytes after the length */
} wire_field;

static size_t get_varint(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 10 && p + i < end; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *out = v;
            return i + 1;
        }
    }
    return 0;
}

/* The field at *p, advancing past it; false at the end. oc_proto_scan has
 * refused bad framing already, so the checks here only guard the walk. */
static bool next_field(const uint8_t **p, const uint8_t *end, wire_field *f)
{
    uint64_t tag, v;
    size_t n;
    if (*p >= end || !(n = get_varint(*p, end, &tag))) return false;
    f->start = *p;
    f->tag_end = *p + n;
    f->id = (uint32_t)(tag >> 3);
    f->wire = (unsigned)(tag & 7);
    const uint8_t *q = f->tag_end;
    switch (f->wire) {
    case 0:
        if (!(n = get_varint(q, end, &v))) return false;
        q += n;
        break;
    case 1: case 5: {
        size_t width = f->wire == 1 ? 8 : 4;
        if ((size_t)(end - q) < width) return false;
        q += width;
        break;
    }
    case 2:
        if (!(n = get_varint(q, end, &v)) || v > (uint64_t)(end - q - n)) return false;
        q += n;
        f->payload = q;
        q += v;
        break;
    default: return false;
    }
    f->end = q;
    if (f->wire != 2) f->payload = f->tag_end;
    *p = q;
    return true;
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) v >>= 7, n++;
    return n;
}

static uint8_t *put_varint(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

/* How many times field `id` occurs in [p, end), and the last occurrence. */
static int count_field(const uint8_t *p, const uint8_t *end, uint32_t id, wire_field *last)
{
    int n = 0;
    wire_field f;
    while (next_field(&p, end, &f))
        if (f.id == id) {
            n++;
            *last = f;
        }
    return n;
}

/*
 * A tensor payload can be lifted when the field occurs once (protobuf's
 * merge rules for repeats stay protobuf-c's business), length-delimited, and
 * large; packed float_data must also hold whole floats, as protobuf-c
 * requires.
 */
static bool liftable(const uint8_t *p, const uint8_t *end, uint32_t id)
{
    wire_field f;
    if (count_field(p, end, id, &f) != 1 || f.wire != 2) return false;
    size_t len = (size_t)(f.end - f.payload);
    return len >= LIFT_MIN_BYTES && (id != TENSOR_FLOAT_DATA || len % 4 == 0);
}

enum { LEVEL_MODEL, LEVEL_GRAPH, LEVEL_TENSOR };

/*
 * Copy the message [p, end) at `level` into `out`, leaving out the payloads
 * to lift and re-encoding the length of every message that shrinks (the
 * graph and its initializers); everything else is copied byte for byte, so
 * protobuf-c unpacks the same model minus those payloads. With out == NULL
 * it only measures. Returns the bytes written.
 */
static size_t strip(lift_state *s, int level, const uint8_t *p, const uint8_t *end, uint8_t *out)
{
    bool lift_raw = false, lift_float = false, one_graph = false;
    wire_field f;
    if (level == LEVEL_TENSOR) {
        lift_raw = liftable(p, end, TENSOR_RAW_DATA);
        lift_float = liftable(p, end, TENSOR_FLOAT_DATA);
    } else if (level == LEVEL_MODEL) {
        /* Two graph fields would be merged by protobuf-c; leave such files alone. */
        one_graph = count_field(p, end, MODEL_GRAPH, &f) == 1;
    }
    size_t n = 0;
    while (next_field(&p, end, &f)) {
        if (level == LEVEL_TENSOR && f.wire == 2 &&
            ((f.id == TENSOR_RAW_DATA && lift_raw) || (f.id == TENSOR_FLOAT_DATA && lift_float))) {
            if (!out) {
                s->candidates++;
            } else if (!s->nomem) {
                if (s->n == s->cap) {
                    size_t cap = s->cap ? 2 * s->cap : 64;
                    lifted *grown = oc_realloc(s->items, cap * sizeof *grown);
                    if (!grown) {
                        s->nomem = true;
                        continue;
                    }
                    s->items = grown;
                    s->cap = cap;
                }
                s->items[s->n++] = (lifted){.init = s->inits, .float_data = f.id == TENSOR_FLOAT_DATA,
                                            .offset = (uint64_t)(f.payload - s->base),
                                            .len = (uint64_t)(f.end - f.payload)};
            }
            continue;
        }
        int child = -1;
        if (level == LEVEL_MODEL && f.id == MODEL_GRAPH && f.wire == 2 && one_graph) child = LEVEL_GRAPH;
        if (level == LEVEL_GRAPH && f.id == GRAPH_INITIALIZER && f.wire == 2) child = LEVEL_TENSOR;
        if (child < 0) {
            if (out) memcpy(out + n, f.start, (size_t)(f.end - f.start));
            n += (size_t)(f.end - f.start);
            continue;
        }
        size_t inner = strip(s, child, f.payload, f.end, NULL);
        size_t tag = (size_t)(f.tag_end - f.start);
        if (out) {
            uint8_t *o = out + n;
            memcpy(o, f.start, tag);
            o = put_varint(o + tag, inner);
            strip(s, child, f.payload, f.end, o);
            if (child == LEVEL_TENSOR) s->inits++;
        }
        n += tag + varint_size(inner) + inner;
    }
    if (p != end) s->bad_framing = true; /* cannot happen after the scan; never unpack half a model */
    return n;
}

/* pread all of [offset, offset + len) into buf. */
static onnxc_status read_at(int fd, const char *path, void *buf, uint64_t offset, uint64_t len,
                            onnxc_error *err)
{
    uint64_t got = 0;
    while (got < len) {
        size_t chunk = len - got > (1u << 30) ? (1u << 30) : (size_t)(len - got);
        ssize_t r = pread(fd, (uint8_t *)buf + got, chunk, (off_t)(offset + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return oc_fail(err, ONNXC_ERR_IO, "%s: read failed at byte %llu: %s", path,
                           (unsigned long long)(offset + got), r < 0 ? strerror(errno) : "file shrank");
        got += (uint64_t)r;
    }
    return ONNXC_OK;
}

/*
 * Ask for transparent huge pages on a large, freshly allocated buffer before
 * it is first written. Page faults are most of the cost of reading weights
 * into new memory: on the 2-core VMs we measure on, first-touching 147 MB
 * took 650-730 ms with 4 KiB pages and 40-250 ms with this advice. Only the
 * page-aligned interior is advised, so the call never reaches outside the
 * allocation; failure (THP off, a kernel without it) changes nothing.
 */
#define HUGE_ADVICE_MIN_BYTES (4u << 20)

static void advise_huge(void *buf, size_t len)
{
#ifdef MADV_HUGEPAGE
    if (len < HUGE_ADVICE_MIN_BYTES) return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)buf + page - 1) & ~(page - 1), hi = ((uintptr_t)buf + len) & ~(page - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)buf;
    (void)len;
#endif
}

/* Read each lifted payload into a buffer owned by its TensorProto (freed by
 * protobuf-c's free_unpacked with the same allocator). */
static onnxc_status fill_lifted(onnxc_model *m, int fd, const lift_state *s, onnxc_error *err)
{
    Onnx__GraphProto *g = m->proto->graph;
    for (size_t i = 0; i < s->n; i++) {
        const lifted *it = &s->items[i];
        if (!g || it->init >= g->n_initializer)
            return oc_fail(err, ONNXC_ERR_PARSE, "%s: graph.initializer[%zu] is missing after unpacking; "
                           "expected %zu or more initializers", m->label, it->init, it->init + 1);
        Onnx__TensorProto *t = g->initializer[it->init];
        void *buf = oc_malloc_aligned_from((size_t)it->len, PB_ALIGN_FROM); /* see pb_alloc */
        if (!buf)
            return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory for %llu bytes of graph.initializer[%zu]",
                           m->label, (unsigned long long)it->len, it->init);
        advise_huge(buf, (size_t)it->len);
        if (it->float_data) {
            t->float_data = buf;
            t->n_float_data = (size_t)(it->len / 4);
        } else {
            t->raw_data.data = buf;
            t->raw_data.len = (size_t)it->len;
            t->has_raw_data = 1;
        }
        OC_TRY(read_at(fd, m->label, buf, it->offset, it->len, err));
    }
    return ONNXC_OK;
}

/*
 * Load an open regular file of `size` bytes (0 < size <= max_file_bytes)
 * through a read-only mapping, which this function unmaps on every path; see
 * the top of this file. The mapping is gone before any payload is read, so
 * only the framing's pages were ever mapped. (A file truncated by another
 * process while it is mapped would raise SIGBUS during the scan; the window
 * is the scan of the framing only.)
 */
static onnxc_status load_mapped(int fd, const uint8_t *map, size_t size, const char *path,
                                const char *dir, const onnxc_limits *lim, onnxc_model **out,
                                onnxc_error *err)
{
    oc_scan_stats stats;
    lift_state ls = {.base = map};
    uint8_t *image = NULL;
    size_t image_size = 0;
    onnxc_model *m = NULL;
    onnxc_status st = oc_proto_scan(map, size, &onnx__model_proto__descriptor, lim, path, &stats, err);
    if (st == ONNXC_OK) image_size = strip(&ls, LEVEL_MODEL, map, map + size, NULL);
    if (st == ONNXC_OK && ls.candidates) {
        image = oc_malloc(image_size ? image_size : 1);
        size_t written = image ? strip(&ls, LEVEL_MODEL, map, map + size, image) : 0;
        if (!image || ls.nomem)
            st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", path);
        else if (ls.bad_framing || written != image_size)
            st = oc_fail(err, ONNXC_ERR_PARSE, "%s: inconsistent framing (expected %zu bytes without the "
                         "weights, wrote %zu)", path, image_size, written);
    }
    if (st == ONNXC_OK) st = new_model(path, dir, lim, &m, err);
    /* Without anything to lift, protobuf-c unpacks from the mapping itself. */
    if (st == ONNXC_OK) st = image ? unpack_into(m, image, image_size, err) : unpack_into(m, map, size, err);
    oc_free(image);
    munmap((void *)map, size);
    if (st == ONNXC_OK) st = fill_lifted(m, fd, &ls, err);
    oc_free(ls.items);
    if (st != ONNXC_OK) {
        onnxc_model_free(m);
        return st;
    }
    return finish_model(m, out, err);
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
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return oc_fail(err, ONNXC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st_file;
    if (fstat(fd, &st_file) != 0 || !S_ISREG(st_file.st_mode)) {
        close(fd);
        return oc_fail(err, ONNXC_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)st_file.st_size;
    onnxc_status st = check_size(size, path, &lim, err);
    void *map = st == ONNXC_OK ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    if (st == ONNXC_OK && map != MAP_FAILED && oc_keras_sniff(map, size)) {
        munmap(map, size);
        close(fd);
        return onnxc_model_load_keras(path, NULL, &lim, out, err);
    }
    char *dir = st == ONNXC_OK ? dir_of(path) : NULL;
    if (st == ONNXC_OK && !dir) st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", path);
    if (st != ONNXC_OK) {
        if (map != MAP_FAILED) munmap(map, size);
    } else if (map != MAP_FAILED) {
        /* The payloads are read in file order right after the scan. */
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        st = load_mapped(fd, map, size, path, dir, &lim, out, err);
    } else {
        /* A file system that cannot map files: read it whole instead. */
        uint8_t *data = NULL;
        close(fd);
        fd = -1;
        st = oc_read_file(path, lim.max_file_bytes, &data, &size, err);
        if (st == ONNXC_OK && oc_keras_sniff(data, size)) {
            oc_free(data);
            oc_free(dir);
            return onnxc_model_load_keras(path, NULL, &lim, out, err);
        }
        if (st == ONNXC_OK) st = load_bytes(data, size, path, dir, &lim, out, err);
        oc_free(data);
    }
    if (fd >= 0) close(fd);
    oc_free(dir);
    return st;
}
