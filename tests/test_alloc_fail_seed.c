/*
 * Allocation failure on the seed model (784-64(relu)-64(relu)-10(softmax)
 * in the tf2onnx layout), file to file: for every k, the k-th allocation of
 *
 *   onnxc_model_load(seed.onnx) -> onnxc_model_check -> session create ->
 *   run (plans) -> trainer create -> one training step -> save the model
 *   inline and with external data -> save a checkpoint -> load it into a
 *   second trainer (resume) -> reload the saved model
 *
 * fails (oc_alloc_fail_after). test_alloc_fail.c covers a real model, a
 * network built in memory and a Keras file; this is the file-based path of
 * the seed model that `onnxc train` takes, saves included. Each failure
 * must come back as ONNXC_ERR_NOMEM with a message, free everything
 * (LeakSanitizer after every k in ASan builds), not crash, and leave the
 * files written by the previous complete run intact: the same bytes (the
 * external-data pair: the same weights), no temporary beside them.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "checkpoint.h"
#include "onnxc.h"
#include "testutil.h"

#ifdef TU_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

#define SEED_SPEC "784,64:relu,64:relu,10:softmax"
#define BATCH 8

typedef struct paths {
    char *dir, *seed, *inline_out, *ext_out, *ck;
} paths;

typedef struct fixture {
    paths p;
    float x[BATCH * 784];   /* [BATCH, 784] */
    int64_t y[BATCH];       /* [BATCH] */
} fixture;

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

static onnxc_status sequence(fixture *fx, onnxc_error *err)
{
    onnxc_model *m = NULL, *m2 = NULL, *back = NULL;
    onnxc_session *s = NULL;
    onnxc_trainer *t = NULL, *t2 = NULL;
    onnxc_session_options so = {.threads = 1, .seed = 1};
    onnxc_tensor x = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {BATCH, 784}, .data = fx->x};
    onnxc_tensor y = {.dtype = ONNXC_INT64, .rank = 1, .dims = {BATCH}, .data = fx->y};
    onnxc_tensor out = {0};
    onnxc_trainer_options to;
    onnxc_trainer_options_default(&to);
    to.threads = 1;
    onnxc_save_options ext = {.external_data = 1, .external_threshold = 1024};
    oc_fit_state fs = {.epochs_done = 1, .batch_size = BATCH}, fs2 = {.batch_size = BATCH};
    onnxc_status st = onnxc_model_load(fx->p.seed, NULL, &m, err);
    if (st == ONNXC_OK) st = onnxc_model_check(m, err);
    if (st == ONNXC_OK) st = onnxc_session_create(m, &so, &s, err);
    if (st == ONNXC_OK) st = onnxc_session_run(s, &x, 1, &out, 1, err);
    if (st == ONNXC_OK) st = onnxc_trainer_create(m, &to, &t, err);
    if (st == ONNXC_OK) st = onnxc_trainer_step(t, &x, &y, NULL, err);
    if (st == ONNXC_OK) st = onnxc_model_save(m, fx->p.inline_out, NULL, err);
    if (st == ONNXC_OK) st = onnxc_model_save(m, fx->p.ext_out, &ext, err);
    if (st == ONNXC_OK) st = oc_checkpoint_save(t, fx->p.ck, &fs, err);
    if (st == ONNXC_OK) st = onnxc_model_load(fx->p.seed, NULL, &m2, err);
    if (st == ONNXC_OK) st = onnxc_trainer_create(m2, &to, &t2, err);
    if (st == ONNXC_OK) st = oc_checkpoint_load(t2, fx->p.ck, &fs2, err);
    if (st == ONNXC_OK) st = onnxc_model_load(fx->p.ext_out, NULL, &back, err);
    onnxc_model_free(back);
    onnxc_trainer_free(t2);
    onnxc_model_free(m2);
    onnxc_trainer_free(t);
    onnxc_session_free(s);
    onnxc_model_free(m);
    return st;
}

/* The folder's files and their bytes, to compare before and after. */
typedef struct snapshot {
    size_t n;
    char **names;
    void **data;
    size_t *size;
} snapshot;

static snapshot take(const char *dir)
{
    snapshot s = {0};
    s.names = tu_list(dir, "", &s.n);
    s.data = calloc(s.n + 1, sizeof *s.data);
    s.size = calloc(s.n + 1, sizeof *s.size);
    for (size_t i = 0; i < s.n; i++) cr_assert(tu_read_file(s.names[i], &s.data[i], &s.size[i]));
    return s;
}

static void drop(snapshot *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->data[i]);
    free(s->data);
    free(s->size);
    tu_list_free(s->names, s->n);
}

/* Every initializer's bytes, concatenated. */
static void *weights_of(const char *path, size_t *size)
{
    onnxc_model *m = NULL;
    onnxc_error err;
    if (onnxc_model_load(path, NULL, &m, &err) != ONNXC_OK) return NULL;
    char *b = NULL;
    *size = 0;
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor v;
        onnxc_model_initializer(m, i, &v);
        b = realloc(b, *size + v.capacity);
        memcpy(b + *size, v.data, v.capacity);
        *size += v.capacity;
    }
    onnxc_model_free(m);
    return b;
}

/*
 * After a run, failed or not: the same number of files (no temporary left),
 * every file byte-identical except the external-data pair, whose side file
 * alternates between two names from save to save (converter/writer.c); that
 * pair must load with the same weights as the inline save.
 */
static bool unchanged(const snapshot *before, const char *dir, const char *inline_out, const char *ext_out,
                      char *why, size_t why_size)
{
    snapshot now = take(dir);
    bool same = now.n == before->n;
    if (!same) snprintf(why, why_size, "%zu files instead of %zu (a temporary left behind?)", now.n, before->n);
    for (size_t i = 0; same && i < now.n; i++) {
        if (strstr(now.names[i], "trained_ext")) continue;
        same = !strcmp(now.names[i], before->names[i]) && now.size[i] == before->size[i] &&
               !memcmp(now.data[i], before->data[i], now.size[i]);
        if (!same) snprintf(why, why_size, "%s changed", now.names[i]);
    }
    drop(&now);
    if (same) {
        size_t na = 0, nb = 0;
        void *a = weights_of(inline_out, &na), *b = weights_of(ext_out, &nb);
        same = a && b && na == nb && !memcmp(a, b, na);
        if (!same) snprintf(why, why_size, "%s does not load with the trained weights", ext_out);
        free(a);
        free(b);
    }
    return same;
}

Test(alloc_fail_seed, load_check_run_train_save_checkpoint_resume, .timeout = 900)
{
    fixture *fx = calloc(1, sizeof *fx);
    fx->p.dir = tu_tmpdir("allocfail-seed");
    fx->p.seed = tu_path("%s/seed.onnx", fx->p.dir);
    fx->p.inline_out = tu_path("%s/trained.onnx", fx->p.dir);
    fx->p.ext_out = tu_path("%s/trained_ext.onnx", fx->p.dir);
    fx->p.ck = tu_path("%s/ck.onnx", fx->p.dir);
    tu_rng r = {11};
    for (size_t i = 0; i < BATCH * 784; i++) fx->x[i] = (float)tu_rng_uniform(&r, 0, 1);
    for (size_t i = 0; i < BATCH; i++) fx->y[i] = (int64_t)(i * 7 % 10);
    onnxc_model *seed;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec(SEED_SPEC, 42, &seed, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(onnxc_model_save(seed, fx->p.seed, NULL, &err), ONNXC_OK, "%s", err.message);
    onnxc_model_free(seed);

    /* Undisturbed twice: the files every later run writes exist, and the
     * heap is settled before leak accounting. */
    oc_alloc_fail_after(-1);
    cr_assert_eq(sequence(fx, &err), ONNXC_OK, "undisturbed run: %s", err.message);
    cr_assert_eq(sequence(fx, &err), ONNXC_OK, "second undisturbed run: %s", err.message);
    cr_assert(!leaked(), "the undisturbed run leaks");
    snapshot before = take(fx->p.dir);

    long failures = 0, bad_status = 0, changed = 0;
    for (long k = 0;; k++) {
        memset(&err, 0, sizeof err);
        oc_alloc_fail_after(k);
        onnxc_status st = sequence(fx, &err);
        long made = oc_alloc_fail_after(-1);
        if (made <= k) {
            cr_expect_eq(st, ONNXC_OK, "k=%ld beyond the last allocation: %s", k, err.message);
            cr_log_info("seed model: %ld allocations, each failed once: %ld failed runs, %ld wrong statuses, "
                        "%ld changed files",
                        k, failures, bad_status, changed);
            break;
        }
        if (st != ONNXC_OK) {
            failures++;
            bool good = st == ONNXC_ERR_NOMEM && err.status == ONNXC_ERR_NOMEM && err.message[0];
            bad_status += !good;
            cr_expect(good, "k=%ld of %ld: expected ONNXC_ERR_NOMEM, got %s: %s", k, made, onnxc_status_name(st),
                      err.message);
        }
        /* A run saves the same weights each time (same seed, same batch), so
         * success or failure, every file holds the bytes it held before. */
        char why[512];
        bool same = unchanged(&before, fx->p.dir, fx->p.inline_out, fx->p.ext_out, why, sizeof why);
        changed += !same;
        cr_expect(same, "k=%ld (%s): %s", k, onnxc_status_name(st), why);
        cr_expect(!leaked(), "k=%ld: memory leaked after the failure (%s)", k, onnxc_status_name(st));
    }
    drop(&before);
    tu_rmtree(fx->p.dir);
    free(fx->p.dir);
    free(fx->p.seed);
    free(fx->p.inline_out);
    free(fx->p.ext_out);
    free(fx->p.ck);
    free(fx);
}
