/*
 * Allocation failure, exhaustively: for k = 0, 1, 2, ... make the k-th
 * allocation of a whole sequence fail (oc_alloc_fail_after, runtime/alloc.h)
 * until the sequence runs to the end without reaching allocation k. Each
 * sequence covers load, check, plan, run, train and save:
 *
 *   real     onnxc_model_load (a tf2onnx MNIST model) -> check ->
 *            session_create -> run -> save_memory -> load_memory (reload)
 *   spec     onnxc_model_from_spec -> session_create -> run ->
 *            trainer_create -> trainer_step -> save_memory
 *   keras    the Keras .h5 converter -> onnxc_model_load_memory ->
 *            set_inference_only -> session_create -> run
 *
 * Each failure must come back as ONNXC_ERR_NOMEM with a message, free
 * everything, and not crash. A sequence that still succeeds despite the
 * failure (an allocation with a fallback) must produce the same outputs as
 * the reference and save the same bytes as the undisturbed run; those k are
 * logged. In ASan builds LeakSanitizer
 * checks for leaks after every k (and prints the allocation stack of the
 * first leak). A crash prints the k and the sequence before the process dies
 * (ASan adds the stack).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "compare.h"
#include "keras_internal.h"
#include "onnxc.h"
#include "testutil.h"

#ifdef TU_SANITIZED
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#endif

#define REAL_DIR ONNXC_SHARED_DIR "/models/real"
#define REAL_MODEL REAL_DIR "/tf2onnx-1.17_op13_ohhmkar_gopherRT_mnist"
#define KERAS_MODEL REAL_DIR "/keras-2.4.0_dig94_keras_mnist"
#define REAL_TOL 1e-4
#define SPEC "784,16:relu,10:softmax"
#define BATCH 4

/* ---- crash reporting ------------------------------------------------------ */

static volatile long current_k = -1;
static const char *volatile current_seq = "";

static void say_where(void)
{
    char buf[160];
    int n = snprintf(buf, sizeof buf, "\nalloc_fail: died in sequence '%s' with allocation k=%ld failing\n",
                     current_seq, current_k);
    if (n > 0 && write(2, buf, (size_t)n) < 0) return;
}

static void on_signal(int sig)
{
    say_where();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_crash_report(void)
{
#ifdef TU_SANITIZED
    __asan_set_death_callback(say_where);
#endif
    signal(SIGSEGV, on_signal);
    signal(SIGBUS, on_signal);
    signal(SIGABRT, on_signal);
    signal(SIGFPE, on_signal);
}

/* ---- leak accounting ------------------------------------------------------- */

/*
 * True when LeakSanitizer finds unreachable memory now (it prints each leak
 * with its allocation stack). A leak stays reported by every later check, so
 * only the first leaking k is attributed; the rest of the run still checks
 * statuses, and LSan's exit-time report fails the process anyway. Without
 * ASan there is no reliable leak count (glibc's mallinfo counts chunks
 * parked in its caches as in use, libhdf5 keeps free lists), so the check
 * is a no-op there: CI runs the suite under ASan+LSan.
 */
static bool leaked(void)
{
#ifdef TU_SANITIZED
    static bool reported;
    if (reported) return false;
    reported = __lsan_do_recoverable_leak_check() != 0;
    return reported;
#else
    return false;
#endif
}

/* ---- the sequences --------------------------------------------------------- */

typedef struct fixture {
    onnxc_tensor input;       /* real model input, [3, 784] */
    onnxc_tensor expected;    /* real model reference output */
    onnxc_tensor keras_input, keras_expected;
    float x[BATCH * 784];     /* spec model batch */
    int64_t y[BATCH];
    /* Results of the undisturbed spec run, to judge runs that survive a
     * failure (same build, same seed: they must be bit-identical). */
    bool undisturbed_done;
    float spec_out[BATCH * 10];
    double spec_loss;
    void *saved;              /* what the undisturbed run saved (malloc'd) */
    size_t saved_size;
} fixture;

typedef struct outcome {
    bool ok_results;          /* on success: results equal the reference */
    char why[1024];
} outcome;

/* A run that absorbed a failure must save exactly what the undisturbed one
 * saved (same build, same inputs): every field, name and weight. */
static void check_saved(fixture *fx, outcome *oc, const void *buf, size_t size)
{
    if (!fx->undisturbed_done) {
        free(fx->saved);
        fx->saved = malloc(size);
        cr_assert_not_null(fx->saved);
        memcpy(fx->saved, buf, size);
        fx->saved_size = size;
    } else if (size != fx->saved_size || memcmp(buf, fx->saved, size) != 0) {
        oc->ok_results = false;
        snprintf(oc->why, sizeof oc->why, "saved model differs from the undisturbed run's "
                 "(%zu bytes vs %zu)", size, fx->saved_size);
    }
}

static onnxc_status seq_real(fixture *fx, outcome *oc, onnxc_error *err)
{
    onnxc_model *m = NULL, *m2 = NULL;
    onnxc_session *s = NULL;
    void *buf = NULL;
    size_t size = 0;
    onnxc_session_options so = {.threads = 1, .seed = 1};
    onnxc_tensor out = {0};
    onnxc_status st = onnxc_model_load(REAL_MODEL ".onnx", NULL, &m, err);
    if (st == ONNXC_OK) st = onnxc_model_check(m, err);
    if (st == ONNXC_OK) st = onnxc_session_create(m, &so, &s, err);
    if (st == ONNXC_OK) st = onnxc_session_run(s, &fx->input, 1, &out, 1, err);
    if (st == ONNXC_OK)
        oc->ok_results = cmp_tensor(&out, &fx->expected, cmp_abs_or_rel(REAL_TOL), oc->why,
                                    sizeof oc->why);
    if (st == ONNXC_OK) st = onnxc_model_save_memory(m, &buf, &size, err);
    if (st == ONNXC_OK) check_saved(fx, oc, buf, size);
    if (st == ONNXC_OK) st = onnxc_model_load_memory(buf, size, NULL, "saved", NULL, &m2, err);
    free(buf);
    onnxc_model_free(m2);
    onnxc_session_free(s);
    onnxc_model_free(m);
    return st;
}

static onnxc_status seq_spec(fixture *fx, outcome *oc, onnxc_error *err)
{
    onnxc_model *m = NULL;
    onnxc_session *s = NULL;
    onnxc_trainer *t = NULL;
    void *buf = NULL;
    size_t size = 0;
    onnxc_session_options so = {.threads = 1, .seed = 1};
    onnxc_tensor x = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {BATCH, 784}, .data = fx->x};
    onnxc_tensor y = {.dtype = ONNXC_INT64, .rank = 1, .dims = {BATCH}, .data = fx->y};
    onnxc_tensor out = {0};
    onnxc_trainer_options to;
    onnxc_trainer_options_default(&to);
    to.threads = 1;
    onnxc_batch_result br = {0};
    onnxc_status st = onnxc_model_from_spec(SPEC, 42, &m, err);
    if (st == ONNXC_OK) st = onnxc_session_create(m, &so, &s, err);
    if (st == ONNXC_OK) st = onnxc_session_run(s, &x, 1, &out, 1, err);
    if (st == ONNXC_OK && fx->undisturbed_done) {
        oc->ok_results = memcmp(out.data, fx->spec_out, sizeof fx->spec_out) == 0;
        if (!oc->ok_results) snprintf(oc->why, sizeof oc->why, "run output differs");
    } else if (st == ONNXC_OK) {
        memcpy(fx->spec_out, out.data, sizeof fx->spec_out);
    }
    if (st == ONNXC_OK) st = onnxc_trainer_create(m, &to, &t, err);
    if (st == ONNXC_OK) st = onnxc_trainer_step(t, &x, &y, &br, err);
    if (st == ONNXC_OK && fx->undisturbed_done && br.loss != fx->spec_loss) {
        oc->ok_results = false;
        snprintf(oc->why, sizeof oc->why, "loss %.9g, undisturbed run %.9g", br.loss,
                 fx->spec_loss);
    }
    if (st == ONNXC_OK && !fx->undisturbed_done) fx->spec_loss = br.loss;
    if (st == ONNXC_OK) st = onnxc_model_save_memory(m, &buf, &size, err);
    if (st == ONNXC_OK) check_saved(fx, oc, buf, size);
    free(buf);
    onnxc_trainer_free(t);
    onnxc_session_free(s);
    onnxc_model_free(m);
    return st;
}

/* onnxc_model_load converts Keras files in a forked child (keras_sandbox.c),
 * whose allocations the parent's counter never sees; the in-process
 * converter is what the child runs, so it is driven directly. */
static onnxc_status seq_keras(fixture *fx, outcome *oc, onnxc_error *err)
{
    void *bytes = NULL;
    size_t size = 0;
    onnxc_model *m = NULL;
    onnxc_session *s = NULL;
    onnxc_session_options so = {.threads = 1, .seed = 1};
    onnxc_tensor out = {0};
    onnxc_status st = oc_keras_convert_local(KERAS_MODEL ".h5", NULL, NULL, &bytes, &size, err);
    if (st == ONNXC_OK) check_saved(fx, oc, bytes, size);
    if (st == ONNXC_OK) st = onnxc_model_load_memory(bytes, size, NULL, "keras", NULL, &m, err);
    if (st == ONNXC_OK) st = onnxc_model_set_inference_only(m, err);
    if (st == ONNXC_OK) st = onnxc_session_create(m, &so, &s, err);
    if (st == ONNXC_OK) st = onnxc_session_run(s, &fx->keras_input, 1, &out, 1, err);
    if (st == ONNXC_OK)
        oc->ok_results = cmp_tensor(&out, &fx->keras_expected, cmp_abs_or_rel(REAL_TOL), oc->why,
                                    sizeof oc->why);
    oc_free(bytes);
    onnxc_session_free(s);
    onnxc_model_free(m);
    return st;
}

typedef onnxc_status (*seq_fn)(fixture *fx, outcome *oc, onnxc_error *err);

static fixture *make_fixture(void)
{
    fixture *fx = calloc(1, sizeof *fx);
    cr_assert_not_null(fx);
    char why[512];
    cr_assert(tu_npy_read(REAL_MODEL ".input.npy", &fx->input, why, sizeof why), "%s", why);
    cr_assert(tu_npy_read(REAL_MODEL ".output.npy", &fx->expected, why, sizeof why), "%s", why);
    cr_assert(tu_npy_read(KERAS_MODEL ".input.npy", &fx->keras_input, why, sizeof why), "%s",
              why);
    cr_assert(tu_npy_read(KERAS_MODEL ".output.npy", &fx->keras_expected, why, sizeof why), "%s",
              why);
    tu_rng r = {7};
    for (size_t i = 0; i < BATCH * 784; i++) fx->x[i] = (float)tu_rng_uniform(&r, 0, 1);
    for (size_t i = 0; i < BATCH; i++) fx->y[i] = (int64_t)(i * 3 % 10);
    return fx;
}

static void free_fixture(fixture *fx)
{
    free(fx->input.data);
    free(fx->expected.data);
    free(fx->keras_input.data);
    free(fx->keras_expected.data);
    free(fx->saved);
    free(fx);
}

/*
 * Runs `seq` once undisturbed (which also warms up lazily created state, so
 * the leak accounting that follows starts from a settled heap), then once per
 * allocation with that allocation failing.
 */
static void exhaust(const char *name, seq_fn seq)
{
    install_crash_report();
    fixture *fx = make_fixture();
    onnxc_error err;
    outcome oc = {.ok_results = true};
    oc_alloc_fail_after(-1);
    onnxc_status st = seq(fx, &oc, &err);
    cr_assert_eq(st, ONNXC_OK, "%s: undisturbed run failed: %s", name, err.message);
    cr_assert(oc.ok_results, "%s: undisturbed run: %s", name, oc.why);
    long total = oc_alloc_fail_after(-1);
    cr_assert_gt(total, 0, "%s: no allocation went through oc_malloc", name);
    fx->undisturbed_done = true;
    /* The second undisturbed run also checks the first left nothing behind. */
    cr_assert_eq(seq(fx, &oc, &err), ONNXC_OK, "%s: second run: %s", name, err.message);
    cr_assert(!leaked(), "%s: the undisturbed run leaks", name);
    oc_alloc_fail_after(-1);

    long survived = 0, wrong_status = 0, leaks = 0;
    char survived_list[512] = "";
    current_seq = name;
    for (long k = 0;; k++) {
        current_k = k;
        oc = (outcome){.ok_results = true};
        memset(&err, 0, sizeof err);
        oc_alloc_fail_after(k);
        st = seq(fx, &oc, &err);
        long made = oc_alloc_fail_after(-1);
        if (made <= k) {
            /* Allocation k was never reached: the sequence is exhausted. */
            cr_expect_eq(st, ONNXC_OK, "%s: k=%ld beyond the last allocation: %s", name, k,
                         err.message);
            cr_log_info("%s: %ld allocations, each failed once; %ld survived, %ld wrong "
                        "statuses, %ld leaks",
                        name, k, survived, wrong_status, leaks);
            break;
        }
        if (st == ONNXC_OK) {
            survived++;
            size_t used = strlen(survived_list);
            if (used + 24 < sizeof survived_list)
                snprintf(survived_list + used, sizeof survived_list - used, " %ld", k);
            cr_expect(oc.ok_results, "%s: k=%ld: the failure was absorbed but results changed: %s",
                      name, k, oc.why);
        } else {
            bool good = st == ONNXC_ERR_NOMEM && err.status == ONNXC_ERR_NOMEM && err.message[0];
            wrong_status += !good;
            cr_expect(good, "%s: k=%ld of %ld: expected ONNXC_ERR_NOMEM, got %s: %s", name, k,
                      made, onnxc_status_name(st), err.message);
        }
        if (leaked()) {
            leaks++;
            cr_expect(false, "%s: k=%ld: memory leaked after the failure (%s)", name, k,
                      onnxc_status_name(st));
        }
    }
    if (survived)
        cr_log_info("%s: the sequence succeeded although allocation k failed for k =%s", name,
                    survived_list);
    current_k = -1;
    free_fixture(fx);
}

Test(alloc_fail, real_model_load_check_run_save_reload, .timeout = 800) { exhaust("real", seq_real); }

Test(alloc_fail, spec_model_run_train_save, .timeout = 800) { exhaust("spec", seq_spec); }

Test(alloc_fail, keras_h5_load, .timeout = 800) { exhaust("keras", seq_keras); }

/* ---- saving over an existing model ---------------------------------------- */

/* Sum of every float initializer element, as a fingerprint of the weights. */
static double weight_sum(const onnxc_model *m)
{
    double sum = 0;
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor v;
        cr_assert_eq(onnxc_model_initializer(m, i, &v), ONNXC_OK);
        if (v.dtype != ONNXC_FLOAT) continue;
        for (size_t j = 0; j < v.capacity / sizeof(float); j++) sum += ((const float *)v.data)[j];
    }
    return sum;
}

/* Adds 1 to every float weight (what a training step would change). */
static void bump_weights(onnxc_model *m)
{
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor v;
        cr_assert_eq(onnxc_model_initializer(m, i, &v), ONNXC_OK);
        if (v.dtype != ONNXC_FLOAT) continue;
        for (size_t j = 0; j < v.capacity / sizeof(float); j++) ((float *)v.data)[j] += 1.0f;
    }
}

/*
 * onnxc_model_save promises that a failed save leaves the old file
 * untouched. With external data the model is two files, so the promise must
 * cover the pair: after a save that fails at allocation k, loading the path
 * must give the old weights, and no temporary file may be left behind.
 */
Test(alloc_fail, failed_save_keeps_previous_model, .timeout = 800)
{
    install_crash_report();
    char *dir = tu_tmpdir("allocfail-save");
    char *path = tu_path("%s/model.onnx", dir);
    onnxc_save_options opt = {.external_data = 1, .external_threshold = 1};
    onnxc_error err;
    current_seq = "save";
    long failures = 0, bad = 0;
    for (long k = 0;; k++) {
        current_k = k;
        onnxc_model *m = NULL, *back = NULL;
        cr_assert_eq(onnxc_model_from_spec(SPEC, 42, &m, &err), ONNXC_OK, "%s", err.message);
        cr_assert_eq(onnxc_model_save(m, path, &opt, &err), ONNXC_OK, "%s", err.message);
        double old_sum = weight_sum(m);
        bump_weights(m);
        double new_sum = weight_sum(m);
        oc_alloc_fail_after(k);
        onnxc_status st = onnxc_model_save(m, path, &opt, &err);
        long made = oc_alloc_fail_after(-1);
        if (made <= k) {
            cr_expect_eq(st, ONNXC_OK, "save: k=%ld beyond the last allocation: %s", k,
                         err.message);
            cr_log_info("save: %ld allocations, each failed once; %ld failed saves, %ld left "
                        "the model changed",
                        k, failures, bad);
            onnxc_model_free(m);
            break;
        }
        failures += st != ONNXC_OK;
        cr_expect(st == ONNXC_OK || st == ONNXC_ERR_NOMEM, "save: k=%ld: got %s: %s", k,
                  onnxc_status_name(st), err.message);
        onnxc_status lst = onnxc_model_load(path, NULL, &back, &err);
        cr_expect_eq(lst, ONNXC_OK, "save: k=%ld: the model no longer loads after a %s save: %s",
                     k, st == ONNXC_OK ? "successful" : "failed", err.message);
        if (lst == ONNXC_OK) {
            double got = weight_sum(back), want = st == ONNXC_OK ? new_sum : old_sum;
            bool same = got == want;
            bad += !same;
            cr_expect(same, "save: k=%ld: after a %s save the file holds weights summing to %.6g; "
                      "expected the %s ones (%.6g)",
                      k, st == ONNXC_OK ? "successful" : "failed", got,
                      st == ONNXC_OK ? "new" : "old", want);
        }
        size_t n;
        char **left = tu_list(dir, "", &n);
        cr_expect_eq(n, 2, "save: k=%ld: %zu files in the folder (expected model.onnx and "
                     "model.onnx.data; a temporary left behind?)", k, n);
        tu_list_free(left, n);
        onnxc_model_free(back);
        onnxc_model_free(m);
    }
    current_k = -1;
    tu_rmtree(dir);
    free(dir);
    free(path);
}
