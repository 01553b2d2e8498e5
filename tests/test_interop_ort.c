/*
 * onnxc against ONNX Runtime (onnxruntime-node, CPU) on fresh random inputs:
 * for every real ONNX model in shared/models/real, inputs at batch 1, 7 and 64
 * when the batch dim is symbolic (the declared shape otherwise) are written
 * as .npy, run by ORT through tests/interop/ort_run.js and by onnxc through
 * the API, and compared within 1e-4 (absolute, relative above 1).
 *
 * Needs node and the onnxruntime-node package (tests/interop/README.md).
 * When either is missing the tests FAIL and say how to install them; set
 * ONNXC_SKIP_ORT=1 to skip them deliberately. Inputs come from a seed printed
 * in every failure; set ONNXC_TEST_SEED=N to repeat a run.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compare.h"
#include "onnxc.h"
#include "testutil.h"

#ifndef ONNXC_TEST_NODE
#define ONNXC_TEST_NODE "node"
#endif

#define REAL_DIR ONNXC_SHARED_DIR "/models/real"
#define ORT_RUN ONNXC_SOURCE_DIR "/tests/interop/ort_run.js"
#define ORT_TOL 1e-4
#define MAX_IO 16

#define INSTALL_HINT                                                                        \
    "ONNX Runtime for node is needed by this test. Install node (Debian: apt-get install "  \
    "nodejs npm) and onnxruntime-node:\n"                                                   \
    "  mkdir -p " ONNXC_SOURCE_DIR "/.cache/ort && cd " ONNXC_SOURCE_DIR "/.cache/ort && "  \
    "npm install --ignore-scripts onnxruntime-node\n"                                       \
    "then run with NODE_PATH=" ONNXC_SOURCE_DIR "/.cache/ort/node_modules (or install "     \
    "elsewhere and point NODE_PATH at its node_modules). See tests/interop/README.md. "     \
    "To skip these tests deliberately, set ONNXC_SKIP_ORT=1."

static void skip_if_asked(void)
{
    const char *skip = getenv("ONNXC_SKIP_ORT");
    if (skip != NULL && strcmp(skip, "1") == 0)
        cr_skip_test("ONNXC_SKIP_ORT=1: ONNX Runtime interop skipped on request");
}

static uint64_t test_seed(void)
{
    const char *s = getenv("ONNXC_TEST_SEED");
    if (s != NULL && *s) return strtoull(s, NULL, 0);
    return (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
}

/* node runs and can load onnxruntime-node (`ort_run.js --check` exits 3 if not). */
Test(interop, ort_installed, .timeout = 120)
{
    skip_if_asked();
    cr_assert(tu_have_program(ONNXC_TEST_NODE), "`%s` is not in PATH.\n" INSTALL_HINT,
              ONNXC_TEST_NODE);
    const char *argv[] = {ONNXC_TEST_NODE, ORT_RUN, "--check", NULL};
    tu_proc p;
    tu_run(argv, 60, &p);
    cr_expect_neq(p.status, 3, "onnxruntime-node not found (NODE_PATH=%s).\n" INSTALL_HINT,
                  getenv("NODE_PATH") ? getenv("NODE_PATH") : "(unset)");
    cr_expect_eq(p.status, 0, "`node ort_run.js --check` exited %d\n%s", p.status, p.err);
    tu_proc_free(&p);
}

typedef struct ort_model {
    char path[1024];
    char name[512];
} ort_model;

static void free_params(struct criterion_test_params *crp)
{
    cr_free(crp->params);
}

ParameterizedTestParameters(interop, ort_vs_onnxc)
{
    size_t n = 0;
    char **files = tu_list(REAL_DIR, ".onnx", &n);
    ort_model *p = cr_malloc(sizeof *p * (n ? n : 1));
    if (p == NULL) n = 0;
    for (size_t i = 0; i < n; i++) {
        char *name = tu_basename(files[i], ".onnx");
        snprintf(p[i].path, sizeof p[i].path, "%s", files[i]);
        snprintf(p[i].name, sizeof p[i].name, "%s", name);
        free(name);
    }
    tu_list_free(files, n);
    return cr_make_param_array(ort_model, p, n, free_params);
}

/* Random values for one input: pixels-like [0, 1) for floats, small
 * non-negative integers (valid indices and shapes) for integer types. */
static void fill_random(onnxc_tensor *t, tu_rng *rng)
{
    int64_t n = cmp_numel(t);
    for (int64_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case ONNXC_FLOAT: ((float *)t->data)[i] = (float)tu_rng_uniform(rng, 0.0, 1.0); break;
        case ONNXC_DOUBLE: ((double *)t->data)[i] = tu_rng_uniform(rng, 0.0, 1.0); break;
        case ONNXC_INT32: ((int32_t *)t->data)[i] = (int32_t)(tu_rng_next(rng) % 10); break;
        case ONNXC_INT64: ((int64_t *)t->data)[i] = (int64_t)(tu_rng_next(rng) % 10); break;
        case ONNXC_UINT8:
        case ONNXC_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)(tu_rng_next(rng) % 2); break;
        default: break;
        }
    }
}

/* The inputs of `model` with dim 0 bound to `batch` where it is symbolic.
 * False (with why) when another dim is symbolic or the dtype unsupported. */
static bool make_inputs(const onnxc_model *model, int64_t batch, onnxc_tensor *in, size_t n_in,
                        tu_rng *rng, char *why, size_t why_size)
{
    for (size_t k = 0; k < n_in; k++) {
        onnxc_value_info vi;
        memset(&in[k], 0, sizeof in[k]);
        if (onnxc_model_input(model, k, &vi) != ONNXC_OK || vi.rank < 0) {
            snprintf(why, why_size, "input %zu: no declared shape", k);
            return false;
        }
        in[k].dtype = vi.dtype;
        in[k].rank = vi.rank;
        for (int d = 0; d < vi.rank; d++) {
            in[k].dims[d] = vi.dims[d] >= 0 ? vi.dims[d] : d == 0 ? batch : -1;
            if (in[k].dims[d] < 0) {
                snprintf(why, why_size, "input '%s' dim %d is symbolic (%s) and not the batch dim",
                         vi.name, d, vi.dim_names[d] ? vi.dim_names[d] : "?");
                return false;
            }
        }
        size_t es = cmp_dtype_size(vi.dtype);
        if (es == 0 || (vi.dtype != ONNXC_FLOAT && vi.dtype != ONNXC_DOUBLE &&
                        vi.dtype != ONNXC_INT32 && vi.dtype != ONNXC_INT64 &&
                        vi.dtype != ONNXC_UINT8 && vi.dtype != ONNXC_BOOL)) {
            snprintf(why, why_size, "input '%s': dtype %s not generated by this test", vi.name,
                     onnxc_dtype_name(vi.dtype));
            return false;
        }
        in[k].data = calloc((size_t)cmp_numel(&in[k]) + 1, es);
        if (in[k].data == NULL) {
            snprintf(why, why_size, "out of memory");
            return false;
        }
        fill_random(&in[k], rng);
    }
    return true;
}

/* One batch size: ORT via node, onnxc via the API, compare every output. */
static void check_batch(const ort_model *m, const onnxc_model *model, onnxc_session *sess,
                        int64_t batch, uint64_t seed, const char *dir)
{
    size_t n_in = onnxc_model_input_count(model), n_out = onnxc_model_output_count(model);
    cr_assert(n_in <= MAX_IO && n_out <= MAX_IO, "%s: too many inputs/outputs", m->name);
    onnxc_tensor in[MAX_IO], got[MAX_IO];
    char why[1024];
    tu_rng rng = {seed ^ tu_hash(m->name) ^ (uint64_t)batch * 0x9e3779b97f4a7c15ULL};
    cr_assert(make_inputs(model, batch, in, n_in, &rng, why, sizeof why), "%s: %s", m->name,
              why);

    /* argv: node ort_run.js MODEL in_0.npy ... --out DIR */
    const char *argv[MAX_IO + 8];
    char *files[MAX_IO];
    size_t a = 0;
    argv[a++] = ONNXC_TEST_NODE;
    argv[a++] = ORT_RUN;
    argv[a++] = m->path;
    for (size_t k = 0; k < n_in; k++) {
        files[k] = tu_path("%s/b%" PRId64 "_input_%zu.npy", dir, batch, k);
        cr_assert(tu_npy_write(files[k], &in[k]), "cannot write %s", files[k]);
        argv[a++] = files[k];
    }
    char *out_dir = tu_path("%s/ort_b%" PRId64, dir, batch);
    argv[a++] = "--out";
    argv[a++] = out_dir;
    argv[a] = NULL;
    tu_proc p;
    tu_run(argv, 300, &p);
    cr_assert_neq(p.status, 127, "cannot run `%s`.\n" INSTALL_HINT, ONNXC_TEST_NODE);
    cr_assert_neq(p.status, 3, "onnxruntime-node not found.\n" INSTALL_HINT);
    cr_assert_eq(p.status, 0, "%s batch %" PRId64 ": ort_run.js exited %d\n%s", m->name, batch,
                 p.status, p.err);
    tu_proc_free(&p);

    onnxc_error err = {0};
    memset(got, 0, sizeof got);
    cr_assert_eq(onnxc_session_run(sess, in, n_in, got, n_out, &err), ONNXC_OK,
                 "%s batch %" PRId64 " (seed %" PRIu64 "): onnxc_session_run failed (%s): %s",
                 m->name, batch, seed, onnxc_status_name(err.status), err.message);
    for (size_t k = 0; k < n_out; k++) {
        char *file = tu_path("%s/output_%zu.npy", out_dir, k);
        onnxc_tensor ref = {0};
        cr_assert(tu_npy_read(file, &ref, why, sizeof why), "%s: ORT output: %s", m->name, why);
        cr_expect(cmp_tensor(&got[k], &ref, cmp_abs_or_rel(ORT_TOL), why, sizeof why),
                  "%s batch %" PRId64 " (ONNXC_TEST_SEED=%" PRIu64 "), output %zu, onnxc vs "
                  "ONNX Runtime: %s",
                  m->name, batch, seed, k, why);
        free(ref.data);
        free(file);
    }
    for (size_t k = 0; k < n_in; k++) {
        free(in[k].data);
        free(files[k]);
    }
    free(out_dir);
}

ParameterizedTest(ort_model *m, interop, ort_vs_onnxc, .timeout = 600)
{
    skip_if_asked();
    cr_assert(tu_have_program(ONNXC_TEST_NODE), "`%s` is not in PATH.\n" INSTALL_HINT,
              ONNXC_TEST_NODE);
    uint64_t seed = test_seed();
    onnxc_model *model = NULL;
    onnxc_session *sess = NULL;
    onnxc_error err = {0};
    cr_assert_eq(onnxc_model_load(m->path, NULL, &model, &err), ONNXC_OK,
                 "%s: onnxc_model_load failed: %s", m->name, err.message);
    onnxc_session_options opt = {.threads = 1};
    cr_assert_eq(onnxc_session_create(model, &opt, &sess, &err), ONNXC_OK, "%s: %s", m->name,
                 err.message);

    /* Batch sizes only matter when input 0 has a symbolic leading dim. */
    onnxc_value_info vi;
    cr_assert_eq(onnxc_model_input(model, 0, &vi), ONNXC_OK);
    bool symbolic = vi.rank >= 1 && vi.dims[0] < 0;
    const int64_t batches[] = {1, 7, 64};
    char *dir = tu_tmpdir("ort");
    for (size_t b = 0; b < (symbolic ? 3u : 1u); b++)
        check_batch(m, model, sess, batches[b], seed, dir);
    tu_rmtree(dir);
    free(dir);
    onnxc_session_free(sess);
    onnxc_model_free(model);
}
