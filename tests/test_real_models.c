/*
 * Real exported models (every .onnx in shared/models/real, found at run time) against
 * the outputs their publishers' frameworks produce: NAME.output.npy was
 * computed by ONNX Runtime 1.30 from NAME.input.npy (see PROVENANCE.md there).
 * Each model is run through the C API and through the CLI, and `onnxc info`
 * and `onnxc check` must accept it.
 *
 * Tolerance: 1e-4, absolute for |expected| <= 1 and relative above (the
 * housing model predicts values in the hundreds of thousands).
 *
 * The reference .npy is read by the test's own reader (tests/support), so a
 * bug in the library's .npy code cannot cancel itself out.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "onnxc.h"
#include "testutil.h"

#define REAL_DIR ONNXC_SHARED_DIR "/models/real"
#define REAL_TOL 1e-4

typedef struct real_model {
    char path[1024];      /* .../NAME.onnx */
    char name[512];       /* NAME */
    char input[1024];     /* .../NAME.input.npy */
    char output[1024];    /* .../NAME.output.npy */
} real_model;

/* Criterion copies parameters into memory shared with the test processes,
 * hence cr_malloc and fixed-size strings. */
static void free_params(struct criterion_test_params *crp)
{
    cr_free(crp->params);
}

static size_t list_models(real_model **out)
{
    size_t n = 0;
    char **files = tu_list(REAL_DIR, ".onnx", &n);
    real_model *p = cr_malloc(sizeof *p * (n ? n : 1));
    if (p == NULL) {
        tu_list_free(files, n);
        *out = NULL;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char *name = tu_basename(files[i], ".onnx");
        snprintf(p[i].path, sizeof p[i].path, "%s", files[i]);
        snprintf(p[i].name, sizeof p[i].name, "%s", name);
        snprintf(p[i].input, sizeof p[i].input, "%s/%s.input.npy", REAL_DIR, name);
        snprintf(p[i].output, sizeof p[i].output, "%s/%s.output.npy", REAL_DIR, name);
        free(name);
    }
    tu_list_free(files, n);
    *out = p;
    return n;
}

Test(real, models_present)
{
    size_t n = 0;
    char **files = tu_list(REAL_DIR, ".onnx", &n);
    tu_list_free(files, n);
    cr_assert_geq(n, 1, "no *.onnx in %s: the real-model tests would run nothing", REAL_DIR);
}

/* ---- C API ------------------------------------------------------------------ */

ParameterizedTestParameters(real, api)
{
    real_model *p = NULL;
    size_t n = list_models(&p);
    return cr_make_param_array(real_model, p, n, free_params);
}

ParameterizedTest(real_model *m, real, api, .timeout = 120)
{
    onnxc_error err = {0};
    onnxc_model *model = NULL;
    onnxc_session *s1 = NULL, *s2 = NULL;
    onnxc_tensor in = {0}, expected = {0}, got = {0}, got2 = {0}, keep = {0};
    char why[1024];

    cr_assert_eq(onnxc_model_load(m->path, NULL, &model, &err), ONNXC_OK,
                 "%s: onnxc_model_load failed (%s): %s", m->name, onnxc_status_name(err.status),
                 err.message);
    cr_assert_eq(onnxc_model_input_count(model), 1, "%s: expected 1 graph input, got %zu",
                 m->name, onnxc_model_input_count(model));
    cr_assert_geq(onnxc_model_output_count(model), 1, "%s: no graph outputs", m->name);
    cr_assert_eq(onnxc_tensor_load(m->input, &in, &err), ONNXC_OK,
                 "%s: onnxc_tensor_load(%s) failed: %s", m->name, m->input, err.message);
    cr_assert(tu_npy_read(m->output, &expected, why, sizeof why), "%s: reference: %s", m->name,
              why);

    onnxc_session_options o1 = {.threads = 1}, o2 = {.threads = 2};
    cr_assert_eq(onnxc_session_create(model, &o1, &s1, &err), ONNXC_OK,
                 "%s: onnxc_session_create failed: %s", m->name, err.message);
    cr_assert_eq(onnxc_session_run(s1, &in, 1, &got, 1, &err), ONNXC_OK,
                 "%s: onnxc_session_run failed (%s): %s", m->name, onnxc_status_name(err.status),
                 err.message);
    cr_expect(cmp_tensor(&got, &expected, cmp_abs_or_rel(REAL_TOL), why, sizeof why),
              "%s: output 0 vs %s: %s", m->name, m->output, why);

    /* Thread count must not change a single bit. */
    cr_assert(cmp_tensor_copy(&keep, &got), "%s: cannot copy output", m->name);
    cr_assert_eq(onnxc_session_create(model, &o2, &s2, &err), ONNXC_OK, "%s: %s", m->name,
                 err.message);
    cr_assert_eq(onnxc_session_run(s2, &in, 1, &got2, 1, &err), ONNXC_OK,
                 "%s: onnxc_session_run (2 threads) failed: %s", m->name, err.message);
    cr_expect(cmp_tensor_identical(&got2, &keep, why, sizeof why), "%s: 2 threads vs 1: %s",
              m->name, why);

    /* A second run of the same session (plan reuse) gives the same result. */
    cr_assert_eq(onnxc_session_run(s1, &in, 1, &got, 1, &err), ONNXC_OK,
                 "%s: second onnxc_session_run failed: %s", m->name, err.message);
    cr_expect(cmp_tensor_identical(&got, &keep, why, sizeof why), "%s: second run vs first: %s",
              m->name, why);

    cmp_tensor_free(&keep);
    free(expected.data);
    onnxc_tensor_release(&in);
    onnxc_session_free(s2);
    onnxc_session_free(s1);
    onnxc_model_free(model);
}

/* ---- CLI ---------------------------------------------------------------------- */

ParameterizedTestParameters(real, cli_run)
{
    real_model *p = NULL;
    size_t n = list_models(&p);
    return cr_make_param_array(real_model, p, n, free_params);
}

ParameterizedTest(real_model *m, real, cli_run, .timeout = 120)
{
    char *dir = tu_tmpdir("real-cli");
    char *out = tu_path("%s/out.npy", dir);
    const char *argv[] = {ONNXC_CLI, "run", m->path, "-i", m->input, "-o", out, NULL};
    tu_proc p;
    tu_run(argv, 120, &p);
    char *cmd = tu_argv_str(argv);
    cr_assert_eq(p.status, 0, "%s: `%s` exited %d\nstderr: %s", m->name, cmd, p.status, p.err);

    char why[1024];
    onnxc_tensor got = {0}, expected = {0};
    cr_assert(tu_npy_read(out, &got, why, sizeof why), "%s: `%s` wrote no readable npy: %s",
              m->name, cmd, why);
    cr_assert(tu_npy_read(m->output, &expected, why, sizeof why), "%s: reference: %s", m->name,
              why);
    cr_expect(cmp_tensor(&got, &expected, cmp_abs_or_rel(REAL_TOL), why, sizeof why),
              "%s: `%s` output vs %s: %s", m->name, cmd, m->output, why);

    free(got.data);
    free(expected.data);
    free(cmd);
    tu_proc_free(&p);
    free(out);
    tu_rmtree(dir);
    free(dir);
}

ParameterizedTestParameters(real, cli_info_check)
{
    real_model *p = NULL;
    size_t n = list_models(&p);
    return cr_make_param_array(real_model, p, n, free_params);
}

ParameterizedTest(real_model *m, real, cli_info_check, .timeout = 120)
{
    tu_proc p;
    const char *info[] = {ONNXC_CLI, "info", m->path, NULL};
    tu_run(info, 60, &p);
    cr_expect_eq(p.status, 0, "%s: `onnxc info` exited %d\nstderr: %s", m->name, p.status, p.err);
    cr_expect(p.out[0] != '\0', "%s: `onnxc info` printed nothing on stdout", m->name);

    /* The summary should name the graph's input and output. */
    onnxc_model *model = NULL;
    onnxc_error err = {0};
    if (p.status == 0 && onnxc_model_load(m->path, NULL, &model, &err) == ONNXC_OK) {
        onnxc_value_info vi;
        if (onnxc_model_input(model, 0, &vi) == ONNXC_OK)
            cr_expect(strstr(p.out, vi.name) != NULL,
                      "%s: `onnxc info` does not mention input '%s':\n%s", m->name, vi.name,
                      p.out);
        if (onnxc_model_output(model, 0, &vi) == ONNXC_OK)
            cr_expect(strstr(p.out, vi.name) != NULL,
                      "%s: `onnxc info` does not mention output '%s':\n%s", m->name, vi.name,
                      p.out);
        onnxc_model_free(model);
    }
    tu_proc_free(&p);

    const char *check[] = {ONNXC_CLI, "check", m->path, NULL};
    tu_run(check, 60, &p);
    cr_expect_eq(p.status, 0, "%s: `onnxc check` exited %d\nstdout: %s\nstderr: %s", m->name,
                 p.status, p.out, p.err);
    tu_proc_free(&p);
}
