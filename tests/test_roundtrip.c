/*
 * The file format is a contract: `onnxc convert IN -o OUT` must write a model
 * that the python onnx package reads as equal to IN (ModelProto ==, checked
 * by tests/tools/compare_models.py), for every real model and every tier-1
 * conformance model; fields our schema does not know must survive, at the top
 * level and nested; and --external-data must move weights to a side file
 * without changing what the model computes.
 */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "onnxc.h"
#include "testutil.h"

#ifndef ONNXC_TEST_PYTHON
#define ONNXC_TEST_PYTHON "/usr/bin/python3"
#endif

#define REAL_DIR ONNXC_SHARED_DIR "/models/real"
#define TIER1_TSV ONNXC_SHARED_DIR "/conformance/tier1.tsv"
#define COMPARE_MODELS ONNXC_SOURCE_DIR "/tests/tools/compare_models.py"
/* Small models with weights in raw_data (ir 5, 8.8 kB) and in float_data. */
#define SMALL_MODEL REAL_DIR "/pytorch-2.2_op10_0x18a6_verifiable-nn_mnist_model"
#define FLOATDATA_MODEL REAL_DIR "/keras2onnx-1.7_op9_onnx2c_velardo_lesson9"
/* A raw_data model with 440 kB of weights, for external data. */
#define BIG_MODEL REAL_DIR "/tf2onnx-1.17_op13_ohhmkar_gopherRT_mnist"

/* A growing list of strings (argv for the python call). */
typedef struct strvec {
    char **v;
    size_t n, cap;
} strvec;

static void sv_push(strvec *s, char *str)
{
    if (s->n + 1 >= s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        cr_assert_not_null(s->v);
    }
    s->v[s->n++] = str;
    s->v[s->n] = NULL;
}

static void sv_free(strvec *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
}

/* onnxc convert in -o out [extra]; true on exit 0, else a cr_expect failure. */
static bool convert(const char *in, const char *out, const char *extra)
{
    const char *argv[] = {ONNXC_CLI, "convert", in, "-o", out, extra, NULL};
    tu_proc p;
    tu_run(argv, 120, &p);
    char *cmd = tu_argv_str(argv);
    cr_expect_eq(p.status, 0, "`%s` exited %d\nstderr: %s", cmd, p.status, p.err);
    bool ok = p.status == 0;
    free(cmd);
    tu_proc_free(&p);
    return ok;
}

/* compare_models.py over all pairs in `pairs` (IN OUT IN OUT ...). */
static void expect_models_equal(strvec *pairs, const char *what)
{
    if (pairs->n == 0) return;
    strvec argv = {0};
    sv_push(&argv, tu_strdup(ONNXC_TEST_PYTHON));
    sv_push(&argv, tu_strdup(COMPARE_MODELS));
    for (size_t i = 0; i < pairs->n; i++) sv_push(&argv, tu_strdup(pairs->v[i]));
    tu_proc p;
    tu_run((const char *const *)argv.v, 600, &p);
    cr_expect_eq(p.status, 0,
                 "%s: onnx.load(IN) != onnx.load(OUT) after `onnxc convert` "
                 "(compare_models.py exited %d):\n%s%s",
                 what, p.status, p.out, p.err);
    tu_proc_free(&p);
    sv_free(&argv);
}

Test(roundtrip, real_models, .timeout = 600)
{
    size_t n = 0;
    char **files = tu_list(REAL_DIR, ".onnx", &n);
    cr_assert_geq(n, 1, "no *.onnx in %s", REAL_DIR);
    char *dir = tu_tmpdir("roundtrip-real");
    strvec pairs = {0};
    for (size_t i = 0; i < n; i++) {
        char *name = tu_basename(files[i], NULL);
        char *out = tu_path("%s/%s", dir, name);
        if (convert(files[i], out, NULL)) {
            sv_push(&pairs, tu_strdup(files[i]));
            sv_push(&pairs, out);
        } else {
            free(out);
        }
        free(name);
    }
    expect_models_equal(&pairs, "real models");
    sv_free(&pairs);
    tu_list_free(files, n);
    tu_rmtree(dir);
    free(dir);
}

Test(roundtrip, tier1_models, .timeout = 900)
{
    void *text = NULL;
    size_t size = 0;
    cr_assert(tu_read_file(TIER1_TSV, &text, &size), "cannot read %s", TIER1_TSV);
    char *dir = tu_tmpdir("roundtrip-tier1");
    strvec pairs = {0};
    size_t cases = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *tab = strchr(line, '\t');
        if (tab) *tab = '\0';
        if (*line == '\0' || *line == '#') continue;
        char *in = tu_path("%s/%s/model.onnx", ONNX_TESTDATA_DIR, line);
        for (char *c = line; *c; c++)
            if (*c == '/') *c = '_';
        char *out = tu_path("%s/%s.onnx", dir, line);
        cases++;
        if (convert(in, out, NULL)) {
            sv_push(&pairs, in);
            sv_push(&pairs, out);
        } else {
            free(in);
            free(out);
        }
    }
    cr_expect_geq(cases, 1, "no cases in %s", TIER1_TSV);
    expect_models_equal(&pairs, "tier-1 conformance models");
    sv_free(&pairs);
    free(text);
    tu_rmtree(dir);
    free(dir);
}

/* ---- unknown fields --------------------------------------------------------- */

/* Protobuf varint into buf; returns its length. */
static size_t put_varint(unsigned char *buf, uint64_t v)
{
    size_t n = 0;
    do {
        buf[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) buf[n] |= 0x80;
        n++;
    } while (v);
    return n;
}

static bool get_varint(const unsigned char *b, size_t size, size_t *pos, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *pos < size; shift += 7) {
        unsigned char c = b[(*pos)++];
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return true;
    }
    return false;
}

/* A length-delimited field `number` holding `payload`, encoded into buf. */
static size_t unknown_field(unsigned char *buf, uint32_t number, const char *payload)
{
    size_t n = put_varint(buf, (uint64_t)number << 3 | 2);
    n += put_varint(buf + n, strlen(payload));
    memcpy(buf + n, payload, strlen(payload));
    return n + strlen(payload);
}

/*
 * `model` with an unknown field appended to the top-level ModelProto and one
 * appended inside its graph (field 7), whose length prefix is rewritten.
 * Returns the new bytes (malloc'd) and their size.
 */
static unsigned char *add_unknown_fields(const unsigned char *model, size_t size,
                                         const unsigned char *top, size_t top_len,
                                         const unsigned char *nested, size_t nested_len,
                                         size_t *out_size)
{
    unsigned char *out = malloc(size + top_len + nested_len + 16);
    cr_assert_not_null(out);
    size_t pos = 0, o = 0;
    bool graph_done = false;
    while (pos < size) {
        size_t start = pos;
        uint64_t key, len;
        cr_assert(get_varint(model, size, &pos, &key), "bad protobuf key at %zu", start);
        uint32_t wire = (uint32_t)(key & 7);
        if (wire == 0) {
            uint64_t v;
            cr_assert(get_varint(model, size, &pos, &v));
        } else if (wire == 1 || wire == 5) {
            pos += wire == 1 ? 8 : 4;
        } else {
            cr_assert_eq(wire, 2, "unexpected wire type %u at %zu", wire, start);
            cr_assert(get_varint(model, size, &pos, &len));
            if (key >> 3 == 7 && !graph_done) {
                /* ModelProto.graph: re-emit with the nested field at its end. */
                o += put_varint(out + o, key);
                o += put_varint(out + o, len + nested_len);
                memcpy(out + o, model + pos, len);
                o += len;
                memcpy(out + o, nested, nested_len);
                o += nested_len;
                pos += len;
                graph_done = true;
                continue;
            }
            pos += len;
        }
        cr_assert_leq(pos, size, "field at %zu runs past the end", start);
        memcpy(out + o, model + start, pos - start);
        o += pos - start;
    }
    cr_assert(graph_done, "model has no graph field");
    memcpy(out + o, top, top_len);
    o += top_len;
    *out_size = o;
    return out;
}

static bool contains(const void *hay, size_t n, const void *needle, size_t m)
{
    return memmem(hay, n, needle, m) != NULL;
}

Test(roundtrip, unknown_fields_survive, .timeout = 120)
{
    void *orig = NULL;
    size_t orig_size = 0;
    cr_assert(tu_read_file(SMALL_MODEL ".onnx", &orig, &orig_size));
    /* Field numbers far above anything ONNX uses (ModelProto tops out at 25,
     * GraphProto at 16). */
    unsigned char top[64], nested[64];
    size_t top_len = unknown_field(top, 4242, "onnxc-test: unknown ModelProto field");
    size_t nested_len = unknown_field(nested, 3131, "onnxc-test: unknown GraphProto field");
    size_t size = 0;
    unsigned char *bytes =
        add_unknown_fields(orig, orig_size, top, top_len, nested, nested_len, &size);

    char *dir = tu_tmpdir("roundtrip-unknown");
    char *in = tu_path("%s/in.onnx", dir), *out = tu_path("%s/out.onnx", dir);
    cr_assert(tu_write_file(in, bytes, size));

    /* Through the CLI. */
    cr_assert(convert(in, out, NULL));
    void *saved = NULL;
    size_t saved_size = 0;
    cr_assert(tu_read_file(out, &saved, &saved_size), "convert wrote no %s", out);
    cr_expect(contains(saved, saved_size, top, top_len),
              "the unknown top-level field #4242 is missing from the converted model");
    cr_expect(contains(saved, saved_size, nested, nested_len),
              "the unknown GraphProto field #3131 is missing from the converted model");
    strvec pairs = {0};
    sv_push(&pairs, tu_strdup(in));
    sv_push(&pairs, tu_strdup(out));
    expect_models_equal(&pairs, "model with unknown fields");
    sv_free(&pairs);

    /* Through the API: load from memory, save to memory. */
    onnxc_model *model = NULL;
    onnxc_error err = {0};
    cr_assert_eq(onnxc_model_load_memory(bytes, size, NULL, "unknown-fields", NULL, &model, &err),
                 ONNXC_OK, "onnxc_model_load_memory failed: %s", err.message);
    void *mem = NULL;
    size_t mem_size = 0;
    cr_assert_eq(onnxc_model_save_memory(model, &mem, &mem_size, &err), ONNXC_OK,
                 "onnxc_model_save_memory failed: %s", err.message);
    cr_expect(contains(mem, mem_size, top, top_len),
              "onnxc_model_save_memory dropped the unknown top-level field");
    cr_expect(contains(mem, mem_size, nested, nested_len),
              "onnxc_model_save_memory dropped the unknown GraphProto field");

    free(mem);
    onnxc_model_free(model);
    free(saved);
    free(in);
    free(out);
    tu_rmtree(dir);
    free(dir);
    free(bytes);
    free(orig);
}

/* ---- external data ------------------------------------------------------------ */

/* Run `model_path` on NAME.input.npy; the output is copied into *out. */
static void run_model(const char *model_path, const char *input, onnxc_tensor *out)
{
    onnxc_model *model = NULL;
    onnxc_session *s = NULL;
    onnxc_error err = {0};
    onnxc_tensor in = {0}, got = {0};
    cr_assert_eq(onnxc_model_load(model_path, NULL, &model, &err), ONNXC_OK,
                 "onnxc_model_load(%s) failed: %s", model_path, err.message);
    cr_assert_eq(onnxc_tensor_load(input, &in, &err), ONNXC_OK, "%s: %s", input, err.message);
    cr_assert_eq(onnxc_session_create(model, NULL, &s, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(onnxc_session_run(s, &in, 1, &got, 1, &err), ONNXC_OK,
                 "running %s failed: %s", model_path, err.message);
    cr_assert(cmp_tensor_copy(out, &got));
    onnxc_tensor_release(&in);
    onnxc_session_free(s);
    onnxc_model_free(model);
}

/* Files in dir other than `except` with their total size. */
static size_t side_files(const char *dir, const char *except, int64_t *bytes, char *names,
                         size_t names_size)
{
    size_t n = 0, count = 0;
    char **files = tu_list(dir, "", &n);
    *bytes = 0;
    names[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (strcmp(files[i], except) == 0) continue;
        count++;
        *bytes += tu_file_size(files[i]);
        size_t used = strlen(names);
        snprintf(names + used, names_size - used, "%s ", strrchr(files[i], '/') + 1);
    }
    tu_list_free(files, n);
    return count;
}

static void check_external(const char *dir, const char *out, const char *how)
{
    int64_t in_size = tu_file_size(BIG_MODEL ".onnx"), out_size = tu_file_size(out), side = 0;
    char names[1024];
    size_t n_side = side_files(dir, out, &side, names, sizeof names);
    cr_expect_geq(n_side, 1, "%s: no side file next to %s", how, out);
    cr_expect_lt(out_size, in_size / 2,
                 "%s: %s is %lld bytes, the inline original %lld: weights were not moved out",
                 how, out, (long long)out_size, (long long)in_size);
    cr_expect_geq(side, in_size / 2, "%s: side files (%s) hold only %lld bytes", how, names,
                  (long long)side);

    onnxc_tensor a = {0}, b = {0}, ref = {0};
    char why[1024];
    run_model(BIG_MODEL ".onnx", BIG_MODEL ".input.npy", &a);
    run_model(out, BIG_MODEL ".input.npy", &b);
    cr_expect(cmp_tensor_identical(&b, &a, why, sizeof why),
              "%s: external-data model computes differently from the original: %s", how, why);
    cr_assert(tu_npy_read(BIG_MODEL ".output.npy", &ref, why, sizeof why), "%s", why);
    cr_expect(cmp_tensor(&b, &ref, cmp_abs_or_rel(1e-4), why, sizeof why),
              "%s: external-data model vs reference output: %s", how, why);
    free(ref.data);
    cmp_tensor_free(&a);
    cmp_tensor_free(&b);

    strvec pairs = {0};
    sv_push(&pairs, tu_strdup(BIG_MODEL ".onnx"));
    sv_push(&pairs, tu_strdup(out));
    expect_models_equal(&pairs, how);
    sv_free(&pairs);
}

Test(roundtrip, external_data_cli, .timeout = 300)
{
    char *dir = tu_tmpdir("roundtrip-ext");
    char *out = tu_path("%s/model.onnx", dir);
    cr_assert(convert(BIG_MODEL ".onnx", out, "--external-data"));
    check_external(dir, out, "onnxc convert --external-data");
    free(out);
    tu_rmtree(dir);
    free(dir);
}

Test(roundtrip, external_data_api, .timeout = 300)
{
    char *dir = tu_tmpdir("roundtrip-ext-api");
    char *out = tu_path("%s/model.onnx", dir);
    onnxc_model *model = NULL;
    onnxc_error err = {0};
    cr_assert_eq(onnxc_model_load(BIG_MODEL ".onnx", NULL, &model, &err), ONNXC_OK, "%s",
                 err.message);
    onnxc_save_options opt = {.external_data = 1, .external_threshold = 1024,
                              .external_file = "weights.bin"};
    cr_assert_eq(onnxc_model_save(model, out, &opt, &err), ONNXC_OK,
                 "onnxc_model_save with external data failed: %s", err.message);
    char *side = tu_path("%s/weights.bin", dir);
    cr_expect(tu_exists(side), "external_file \"weights.bin\" was not written next to the model");
    check_external(dir, out, "onnxc_model_save(external_data)");
    free(side);
    onnxc_model_free(model);
    free(out);
    tu_rmtree(dir);
    free(dir);
}

/* load -> save -> load -> save gives the same bytes the second time: the
 * writer is deterministic and reads back what it wrote. float_data weights
 * (keras2onnx) included. */
Test(roundtrip, save_is_stable, .timeout = 120)
{
    const char *models[] = {SMALL_MODEL ".onnx", FLOATDATA_MODEL ".onnx"};
    for (size_t k = 0; k < 2; k++) {
        onnxc_model *m1 = NULL, *m2 = NULL;
        onnxc_error err = {0};
        void *b1 = NULL, *b2 = NULL;
        size_t n1 = 0, n2 = 0;
        cr_assert_eq(onnxc_model_load(models[k], NULL, &m1, &err), ONNXC_OK, "%s: %s",
                     models[k], err.message);
        cr_assert_eq(onnxc_model_save_memory(m1, &b1, &n1, &err), ONNXC_OK, "%s: %s", models[k],
                     err.message);
        cr_assert_eq(onnxc_model_load_memory(b1, n1, NULL, "resaved", NULL, &m2, &err), ONNXC_OK,
                     "%s: re-loading the saved bytes failed: %s", models[k], err.message);
        cr_assert_eq(onnxc_model_save_memory(m2, &b2, &n2, &err), ONNXC_OK, "%s", err.message);
        cr_expect(n1 == n2 && memcmp(b1, b2, n1) == 0,
                  "%s: second save differs from the first (%zu vs %zu bytes)", models[k], n1, n2);
        free(b1);
        free(b2);
        onnxc_model_free(m1);
        onnxc_model_free(m2);
    }
}
