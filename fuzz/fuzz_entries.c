/*
 * The file-format fuzz entries (see fuzz_entries.h). Limits are tighter
 * than the library defaults so that a small input cannot legitimately ask
 * for gigabytes (the fuzzer would report that as out-of-memory), and a
 * model is only run when every tensor of its plan is small, so one input
 * cannot legitimately take seconds.
 */
#define _GNU_SOURCE /* nftw */
#include "fuzz_entries.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "data_idx.h"
#include "io_npy.h"
#include "io_tensor_pb.h"
#include "keras.h"
#include "keras_hdf5.h"
#include "onnxc.h"
#include "plan.h"
#include "spec.h"

/* One initializer or computed tensor; all of them together. */
#define FUZZ_MAX_TENSOR_BYTES ((uint64_t)1 << 20)
#define FUZZ_MAX_TOTAL_BYTES ((uint64_t)16 << 20)
/* A model runs only when every value of its plan holds at most this many
 * elements: a MatMul then costs at most ~(64K)^1.5 multiply-adds. */
#define FUZZ_RUN_MAX_ELEMS 65536
#define FUZZ_RUN_MAX_NODES 4096
/* Specs build a network only up to this many parameters. */
#define FUZZ_SPEC_MAX_PARAMS ((uint64_t)1 << 18)

/* ------------------------------------------------------------------------ */
/* Plumbing                                                                  */

void oc_fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("onnxc fuzz: contract broken: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void oc_fuzz_rmtree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static char tmp_root[4096];

static void remove_tmp_root(void)
{
    if (tmp_root[0]) oc_fuzz_rmtree(tmp_root);
}

const char *oc_fuzz_tmpdir(void)
{
    if (tmp_root[0]) return tmp_root;
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(tmp_root, sizeof tmp_root, "%s/onnxc-fuzz-XXXXXX", base);
    if (!mkdtemp(tmp_root)) oc_fuzz_fail("cannot create a scratch folder under %s: %s", base, strerror(errno));
    atexit(remove_tmp_root);
    return tmp_root;
}

/* Write data to <tmpdir>/<name>; returns the path (static buffer). */
static const char *scratch_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", oc_fuzz_tmpdir(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) oc_fuzz_fail("cannot write %s: %s", path, strerror(errno));
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) oc_fuzz_fail("cannot write %s: %s", path, strerror(errno));
        done += (size_t)w;
    }
    close(fd);
    return path;
}

/* A failing call must say what went wrong. */
static void expect_message(onnxc_status st, const onnxc_error *err, const char *what)
{
    OC_FUZZ_CHECK(st != ONNXC_OK, "%s: expected a failure", what);
    OC_FUZZ_CHECK(memchr(err->message, '\0', sizeof err->message), "%s: message not NUL-terminated", what);
    OC_FUZZ_CHECK(err->message[0], "%s failed (%s) with an empty message", what, onnxc_status_name(st));
}

static void fuzz_limits(onnxc_limits *lim)
{
    onnxc_limits_default(lim);
    lim->max_tensor_bytes = FUZZ_MAX_TENSOR_BYTES;
    lim->max_total_bytes = FUZZ_MAX_TOTAL_BYTES;
}

/* Read every byte of a string, so that a dangling or unterminated one is
 * caught by the sanitizer here rather than by some later caller. */
static size_t touch_str(const char *s, const char *what)
{
    OC_FUZZ_CHECK(s, "%s is NULL", what);
    return strlen(s);
}

static volatile uint8_t sink;

static void touch_bytes(const void *p, size_t n)
{
    if (!n) return;
    sink ^= ((const volatile uint8_t *)p)[0];
    sink ^= ((const volatile uint8_t *)p)[n - 1];
}

/* ------------------------------------------------------------------------ */
/* ONNX                                                                      */

static void walk_value(const onnxc_value_info *v, const char *what)
{
    touch_str(v->name, what);
    OC_FUZZ_CHECK(v->rank >= -1 && v->rank <= ONNXC_MAX_RANK, "%s: rank %d", what, v->rank);
    for (int d = 0; d < v->rank; d++)
        if (v->dim_names[d]) touch_str(v->dim_names[d], what);
}

/* Every query of the public API, on every index it accepts. */
static void walk_model(const onnxc_model *m)
{
    onnxc_model_meta meta;
    onnxc_model_get_meta(m, &meta);
    touch_str(meta.producer_name, "producer_name");
    touch_str(meta.producer_version, "producer_version");
    touch_str(meta.graph_name, "graph_name");
    for (size_t i = 0; i < meta.opset_count; i++) {
        const char *domain;
        int64_t version;
        OC_FUZZ_CHECK(onnxc_model_opset(m, i, &domain, &version) == ONNXC_OK, "opset %zu refused", i);
        touch_str(domain, "opset domain");
    }
    onnxc_value_info v;
    for (size_t i = 0; i < onnxc_model_input_count(m); i++) {
        OC_FUZZ_CHECK(onnxc_model_input(m, i, &v) == ONNXC_OK, "input %zu refused", i);
        walk_value(&v, "input");
    }
    for (size_t i = 0; i < onnxc_model_output_count(m); i++) {
        OC_FUZZ_CHECK(onnxc_model_output(m, i, &v) == ONNXC_OK, "output %zu refused", i);
        walk_value(&v, "output");
    }
    OC_FUZZ_CHECK(onnxc_model_input(m, onnxc_model_input_count(m), &v) != ONNXC_OK, "input past the end");
    for (size_t i = 0; i < onnxc_model_node_count(m); i++) {
        onnxc_node_info n;
        OC_FUZZ_CHECK(onnxc_model_node(m, i, &n) == ONNXC_OK, "node %zu refused", i);
        touch_str(n.name, "node name");
        touch_str(n.op_type, "op_type");
        touch_str(n.domain, "domain");
        const char *name;
        for (size_t k = 0; k < n.input_count; k++) {
            OC_FUZZ_CHECK(onnxc_model_node_input(m, i, k, &name) == ONNXC_OK, "node %zu input %zu", i, k);
            touch_str(name, "node input");
        }
        for (size_t k = 0; k < n.output_count; k++) {
            OC_FUZZ_CHECK(onnxc_model_node_output(m, i, k, &name) == ONNXC_OK, "node %zu output %zu", i, k);
            touch_str(name, "node output");
        }
        if (n.output_count) touch_str(n.first_output, "first_output");
    }
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor t;
        OC_FUZZ_CHECK(onnxc_model_initializer(m, i, &t) == ONNXC_OK, "initializer %zu refused", i);
        touch_str(t.name, "initializer name");
        oc_shape s = {.rank = t.rank};
        OC_FUZZ_CHECK(t.rank >= 0 && t.rank <= ONNXC_MAX_RANK, "initializer %zu: rank %d", i, t.rank);
        memcpy(s.dims, t.dims, sizeof s.dims);
        size_t bytes;
        if (oc_shape_bytes(&s, t.dtype, &bytes) && bytes) {
            OC_FUZZ_CHECK(t.data, "initializer %zu: %zu bytes but no data", i, bytes);
            touch_bytes(t.data, bytes);
        }
    }
    uint64_t count, bytes;
    onnxc_model_param_totals(m, &count, &bytes);
}

/* Re-serialized, a loaded model must load again, with the same graph. */
static void resave(const onnxc_model *m, const onnxc_limits *lim)
{
    onnxc_error err;
    void *buf = NULL;
    size_t n = 0;
    onnxc_status st = onnxc_model_save_memory(m, &buf, &n, &err);
    if (st != ONNXC_OK) {
        expect_message(st, &err, "onnxc_model_save_memory");
        return;
    }
    onnxc_model *again = NULL;
    st = onnxc_model_load_memory(buf, n, NULL, "fuzz-resaved.onnx", lim, &again, &err);
    free(buf);
    OC_FUZZ_CHECK(st == ONNXC_OK, "a loaded model does not load after onnxc_model_save_memory: %s", err.message);
    OC_FUZZ_CHECK(onnxc_model_node_count(again) == onnxc_model_node_count(m) &&
                      onnxc_model_input_count(again) == onnxc_model_input_count(m) &&
                      onnxc_model_output_count(again) == onnxc_model_output_count(m) &&
                      onnxc_model_initializer_count(again) == onnxc_model_initializer_count(m),
                  "the re-saved model has a different graph");
    onnxc_model_free(again);
}

/* Zero-filled inputs with every unknown dim 1; false when some input has
 * no usable type or is not small. */
static bool zero_inputs(const onnxc_model *m, onnxc_tensor *in, oc_tensor *raw, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        onnxc_value_info v;
        if (onnxc_model_input(m, i, &v) != ONNXC_OK || v.rank < 0) return false;
        size_t esize = oc_dtype_size(v.dtype);
        if (!esize || v.dtype == ONNXC_STRING) return false;
        in[i] = (onnxc_tensor){.name = NULL, .dtype = v.dtype, .rank = v.rank};
        int64_t elems = 1;
        for (int d = 0; d < v.rank; d++) {
            in[i].dims[d] = v.dims[d] < 0 ? 1 : v.dims[d];
            if (__builtin_mul_overflow(elems, in[i].dims[d], &elems) || elems > FUZZ_RUN_MAX_ELEMS) return false;
        }
        in[i].data = calloc((size_t)elems ? (size_t)elems : 1, esize);
        if (!in[i].data) return false;
        raw[i].dtype = in[i].dtype;
        raw[i].shape.rank = in[i].rank;
        memcpy(raw[i].shape.dims, in[i].dims, sizeof in[i].dims);
        raw[i].data = in[i].data;
    }
    return true;
}

/* A shape-only plan first: it sizes every value without allocating them. */
static bool plan_is_small(const onnxc_model *m, const oc_tensor *raw)
{
    if (onnxc_model_node_count(m) > FUZZ_RUN_MAX_NODES) return false;
    uint64_t rng = 1;
    oc_plan_options opt = {.nthreads = 1, .rng = &rng, .shape_only = true};
    oc_plan p;
    onnxc_error err;
    onnxc_status st = oc_plan_build(&p, m, raw, &opt, &err);
    if (st != ONNXC_OK) {
        expect_message(st, &err, "shape-only plan");
        return false;
    }
    bool small = true;
    for (int v = 0; v < p.n_values && small; v++) {
        int64_t n = oc_shape_numel(&p.tensors[v].shape);
        small = n >= 0 && n <= FUZZ_RUN_MAX_ELEMS;
    }
    oc_plan_free(&p);
    return small;
}

/* Session on zero inputs, twice (the second run reuses the plan). */
static void run_small(const onnxc_model *m)
{
    onnxc_error err;
    onnxc_session *s = NULL;
    onnxc_session_options so = {.threads = 1, .seed = 7};
    onnxc_status st = onnxc_session_create(m, &so, &s, &err);
    if (st != ONNXC_OK) {
        expect_message(st, &err, "onnxc_session_create");
        return;
    }
    size_t n_in = onnxc_model_input_count(m), n_out = onnxc_model_output_count(m);
    onnxc_tensor *in = calloc(n_in + 1, sizeof *in), *out = calloc(n_out + 1, sizeof *out);
    oc_tensor *raw = calloc(n_in + 1, sizeof *raw);
    if (in && out && raw && zero_inputs(m, in, raw, n_in) && plan_is_small(m, raw)) {
        for (int pass = 0; pass < 2; pass++) {
            memset(out, 0, (n_out + 1) * sizeof *out);
            st = onnxc_session_run(s, in, n_in, out, n_out, &err);
            if (st != ONNXC_OK) {
                expect_message(st, &err, "onnxc_session_run");
                break;
            }
            for (size_t k = 0; k < n_out; k++) touch_bytes(out[k].data, out[k].capacity);
        }
    }
    for (size_t i = 0; in && i < n_in; i++) free(in[i].data);
    free(in);
    free(out);
    free(raw);
    onnxc_session_free(s);
}

/* Everything after a successful load. */
static void exercise_model(const onnxc_model *m, const onnxc_limits *lim, bool trusted, const char *what)
{
    walk_model(m);
    resave(m, lim);
    onnxc_error err;
    onnxc_status st = onnxc_model_check(m, &err);
    if (st != ONNXC_OK) {
        /* The probe values for a symbolic batch (101, 211) can take a
         * wide layer past the fuzz limits: a fair refusal. */
        OC_FUZZ_CHECK(!trusted || st == ONNXC_ERR_LIMIT, "%s: onnxc_model_check refuses a model onnxc built: %s",
                      what, err.message);
        expect_message(st, &err, "onnxc_model_check");
        return;
    }
    size_t n = onnxc_model_node_count(m);
    onnxc_node_shape *shapes = calloc(n + 1, sizeof *shapes);
    if (shapes) {
        st = onnxc_model_infer_shapes(m, shapes, &err);
        if (st != ONNXC_OK) expect_message(st, &err, "onnxc_model_infer_shapes");
        free(shapes);
    }
    run_small(m);
}

int oc_fuzz_onnx(const uint8_t *data, size_t size)
{
    onnxc_limits lim;
    fuzz_limits(&lim);
    onnxc_error err;
    onnxc_model *m = NULL;
    onnxc_status st = onnxc_model_load_memory(data, size, NULL, "fuzz.onnx", &lim, &m, &err);
    if (st != ONNXC_OK) {
        OC_FUZZ_CHECK(!m, "failed load left a model");
        expect_message(st, &err, "onnxc_model_load_memory");
        return 0;
    }
    exercise_model(m, &lim, false, "fuzz.onnx");
    onnxc_model_free(m);
    return 0;
}

void oc_fuzz_onnx_trusted(const void *data, size_t size, const char *what)
{
    onnxc_limits lim;
    fuzz_limits(&lim);
    onnxc_error err;
    onnxc_model *m = NULL;
    onnxc_status st = onnxc_model_load_memory(data, size, NULL, what, &lim, &m, &err);
    /* Weights past the fuzz limits are a fair refusal even for our own bytes. */
    if (st == ONNXC_ERR_LIMIT) return;
    OC_FUZZ_CHECK(st == ONNXC_OK, "%s: onnxc cannot load what it made itself: %s", what, err.message);
    exercise_model(m, &lim, true, what);
    onnxc_model_free(m);
}

/* ------------------------------------------------------------------------ */
/* Tensor files                                                              */

static void check_tensor(const onnxc_tensor *t, const char *what)
{
    OC_FUZZ_CHECK(t->rank >= 0 && t->rank <= ONNXC_MAX_RANK, "%s: rank %d", what, t->rank);
    OC_FUZZ_CHECK(t->data, "%s: no data", what);
    oc_shape s = {.rank = t->rank};
    memcpy(s.dims, t->dims, sizeof s.dims);
    size_t bytes;
    OC_FUZZ_CHECK(oc_shape_bytes(&s, t->dtype, &bytes), "%s: size overflows", what);
    OC_FUZZ_CHECK(bytes <= t->capacity, "%s: %zu bytes in a %zu-byte buffer", what, bytes, t->capacity);
    touch_bytes(t->data, bytes);
}

/* The header onnxc writes for a tensor it read must read back the same. */
static void npy_roundtrip(const onnxc_tensor *t)
{
    char head[4096];
    size_t len;
    onnxc_error err;
    onnxc_status st = oc_npy_make_header(t, head, sizeof head, &len, &err);
    OC_FUZZ_CHECK(st == ONNXC_OK, "npy: no header for a tensor read from .npy: %s", err.message);
    oc_npy_header h;
    st = oc_npy_parse_header(head, len, "fuzz-rewritten.npy", &h, &err);
    OC_FUZZ_CHECK(st == ONNXC_OK, "npy: own header refused: %s", err.message);
    OC_FUZZ_CHECK(h.dtype == t->dtype && h.rank == t->rank && !memcmp(h.dims, t->dims, (size_t)t->rank * sizeof h.dims[0]),
                  "npy: own header reads back as another dtype or shape");
}

static void pb_roundtrip(const onnxc_tensor *t)
{
    void *buf = NULL;
    size_t n = 0;
    onnxc_error err;
    onnxc_status st = oc_tensor_pb_pack(t, &buf, &n, &err);
    OC_FUZZ_CHECK(st == ONNXC_OK, "pb: cannot re-pack a tensor read from .pb: %s", err.message);
    onnxc_tensor again = {0};
    st = oc_tensor_pb_parse(buf, n, "fuzz-repacked.pb", &again, &err);
    oc_free(buf);
    OC_FUZZ_CHECK(st == ONNXC_OK, "pb: re-packed tensor refused: %s", err.message);
    OC_FUZZ_CHECK(again.dtype == t->dtype && again.rank == t->rank, "pb: re-packed tensor differs");
    onnxc_tensor_release(&again);
}

int oc_fuzz_npy(const uint8_t *data, size_t size)
{
    bool npy = size >= 6 && !memcmp(data, "\x93NUMPY", 6);
    onnxc_tensor t = {0};
    onnxc_error err;
    onnxc_status st = npy ? oc_npy_parse(data, size, "fuzz.npy", &t, &err)
                          : oc_tensor_pb_parse(data, size, "fuzz.pb", &t, &err);
    if (st != ONNXC_OK) {
        OC_FUZZ_CHECK(!t.data, "failed parse left data");
        expect_message(st, &err, npy ? "oc_npy_parse" : "oc_tensor_pb_parse");
        return 0;
    }
    check_tensor(&t, npy ? "fuzz.npy" : "fuzz.pb");
    if (npy) npy_roundtrip(&t);
    else pb_roundtrip(&t);
    onnxc_tensor_release(&t);
    OC_FUZZ_CHECK(!t.data, "onnxc_tensor_release left data");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* idx                                                                       */

int oc_fuzz_idx(const uint8_t *data, size_t size)
{
    oc_idx ds;
    onnxc_error err;
    onnxc_status st;
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
        st = oc_idx_load(scratch_file("fuzz-idx.gz", data, size), &ds, &err);
    else
        st = oc_idx_parse(data, size, "fuzz-idx", &ds, &err);
    if (st != ONNXC_OK) {
        OC_FUZZ_CHECK(!ds.data, "failed idx load left data");
        expect_message(st, &err, "idx");
        return 0;
    }
    OC_FUZZ_CHECK(ds.ndims >= 1 && ds.ndims <= OC_IDX_MAX_DIMS, "idx: %d dims", ds.ndims);
    /* The first and last items, as the training loader gathers them. */
    if (ds.n_items && ds.item_elems <= FUZZ_RUN_MAX_ELEMS) {
        int64_t rows[2] = {0, (int64_t)ds.n_items - 1};
        float *f = malloc(2 * ds.item_elems * sizeof *f + 1);
        if (f) oc_idx_batch_to_float(&ds, rows, 2, f);
        free(f);
        int64_t labels[2];
        if (ds.item_elems == 1) oc_idx_batch_labels(&ds, rows, 2, labels);
    }
    oc_idx_free(&ds);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Keras                                                                     */

/* Weights-only files need an architecture; this one fits the small seeds
 * (fuzz/make_seeds.c) and is ignored by files with a model config. */
#define FUZZ_KERAS_ARCH "3,2:relu,1"

/* Open libhdf5 identifiers of the kinds the importer creates. */
static void h5_open_ids(hsize_t *n)
{
    static const H5I_type_t kinds[] = {H5I_FILE, H5I_GROUP, H5I_DATATYPE, H5I_DATASPACE, H5I_DATASET, H5I_ATTR};
    oc_h5_enter();   /* the lock, and libhdf5's error printing off */
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (H5Inmembers(kinds[i], &n[i]) < 0) n[i] = 0;
    oc_h5_leave();
}

/* A conversion must close every identifier it opened, on every path: a
 * leaked one keeps memory (and the file image) alive for the process. */
static void expect_no_h5_leak(const hsize_t *before, const char *what)
{
    static const char *const names[] = {"file", "group", "datatype", "dataspace", "dataset", "attribute"};
    hsize_t after[6];
    h5_open_ids(after);
    for (int i = 0; i < 6; i++)
        OC_FUZZ_CHECK(after[i] <= before[i], "%s left %llu HDF5 %s identifier(s) open", what,
                      (unsigned long long)(after[i] - before[i]), names[i]);
}

int oc_fuzz_keras(const uint8_t *data, size_t size)
{
    int kind = oc_keras_sniff(data, size);
    onnxc_error err;
    onnxc_status st;
    if (kind == 0) {
        oc_kmodel km;
        st = oc_keras_parse_config((const char *)data, size, "fuzz: model_config", &km, &err);
        if (st != ONNXC_OK) expect_message(st, &err, "oc_keras_parse_config");
        oc_kmodel_free(&km);
        return 0;
    }
    const char *path = scratch_file(kind == 1 ? "fuzz.h5" : "fuzz.keras", data, size);
    onnxc_limits lim;
    fuzz_limits(&lim);
    void *onnx = NULL;
    size_t n = 0;
    if (getenv("ONNXC_FUZZ_KERAS_SANDBOX")) {
        /* What a user gets: the conversion in a child process. scripts/fuzz.sh
         * replays libhdf5's own crashes and hangs this way; they must come
         * back as clean refusals. The child's coverage is not seen. */
        st = oc_keras_to_onnx(path, FUZZ_KERAS_ARCH, &lim, &onnx, &n, &err);
    } else {
        hsize_t ids[6];
        h5_open_ids(ids);
        st = oc_keras_convert_local(path, FUZZ_KERAS_ARCH, &lim, &onnx, &n, &err);
        expect_no_h5_leak(ids, "oc_keras_convert_local");
    }
    if (st != ONNXC_OK) {
        OC_FUZZ_CHECK(!onnx, "failed conversion left bytes");
        expect_message(st, &err, "oc_keras_convert_local");
        return 0;
    }
    oc_fuzz_onnx_trusted(onnx, n, "fuzz-keras.onnx");
    oc_free(onnx);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Specs                                                                     */

/* Parameters of a parsed spec, saturating. */
static uint64_t spec_params(const oc_spec *s)
{
    uint64_t total = 0;
    int64_t in = s->input;
    for (int i = 0; i < s->n_layers; i++) {
        total += (uint64_t)in * (uint64_t)s->layers[i].units + (uint64_t)s->layers[i].units;
        if (total > ((uint64_t)1 << 62)) return UINT64_MAX;
        in = s->layers[i].units;
    }
    return total;
}

int oc_fuzz_spec(const uint8_t *data, size_t size)
{
    /* A C caller's string ends at the first NUL. */
    char *text = malloc(size + 1);
    if (!text) return -1;
    memcpy(text, data, size);
    text[size] = '\0';
    onnxc_error err;
    oc_spec s;
    onnxc_status st = oc_spec_parse(text, &s, &err);
    oc_kmodel km;
    onnxc_error kerr;
    onnxc_status kst = oc_keras_model_from_spec(text, &km, &kerr);
    oc_kmodel_free(&km);
    OC_FUZZ_CHECK(st == kst || kst == ONNXC_ERR_NOMEM, "spec '%.80s': oc_spec_parse says %s, --arch says %s", text,
                  onnxc_status_name(st), onnxc_status_name(kst));
    if (st != ONNXC_OK) {
        expect_message(st, &err, "oc_spec_parse");
        free(text);
        return 0;
    }
    OC_FUZZ_CHECK(s.n_layers >= 1 && s.n_layers <= OC_SPEC_MAX_LAYERS, "spec: %d layers", s.n_layers);
    OC_FUZZ_CHECK(s.input >= 1 && s.input <= OC_SPEC_MAX_WIDTH, "spec: input %lld", (long long)s.input);
    for (int i = 0; i < s.n_layers; i++)
        OC_FUZZ_CHECK(s.layers[i].units >= 1 && s.layers[i].units <= OC_SPEC_MAX_WIDTH, "spec: units");
    uint64_t params = spec_params(&s);
    oc_spec_free(&s);
    if (params <= FUZZ_SPEC_MAX_PARAMS) {
        onnxc_model *m = NULL;
        st = onnxc_model_from_spec(text, 1, &m, &err);
        OC_FUZZ_CHECK(st == ONNXC_OK, "spec '%.80s' parses but does not build: %s", text, err.message);
        void *bytes = NULL;
        size_t n = 0;
        st = onnxc_model_save_memory(m, &bytes, &n, &err);
        OC_FUZZ_CHECK(st == ONNXC_OK, "spec '%.80s': cannot save: %s", text, err.message);
        oc_fuzz_onnx_trusted(bytes, n, "fuzz-spec.onnx");
        free(bytes);
        onnxc_model_free(m);
    }
    free(text);
    return 0;
}
