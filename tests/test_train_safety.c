/*
 * Training safety (runtime/train/trainer.c, fit.c, checkpoint.c and
 * `onnxc train`), beside what test_trainer.c (NaN loss through the API) and
 * test_kill_resume.c (killed runs, truncated and bit-flipped checkpoints)
 * already cover:
 *
 *   - a NaN gradient behind a finite loss (an input of -Inf that a ReLU
 *     switches off: the loss stays finite, dW = -Inf * 0 = NaN) stops the
 *     step with ONNXC_ERR_NUMERIC naming the step and the gradient, and the
 *     weights are untouched;
 *   - a checkpoint is never written from non-finite weights or optimizer
 *     state: the save is refused and the last good file kept;
 *   - `onnxc train` that diverges (SGD with learning rate 1e6) stops with
 *     exit 2 and a message naming the step; the checkpoint on disk is the
 *     last good one, finite and resumable;
 *   - a resumed run that meets NaN data stops with exit 2, leaves its
 *     checkpoint byte-identical and writes no output model; the checkpoint
 *     still resumes with good data;
 *   - --resume with a checkpoint of another architecture, optimizer,
 *     learning rate, loss or batch size, or with a plain model, is refused
 *     with exit 2 and a message naming the checkpoint and the mismatch,
 *     before any training;
 *   - a checkpoint used as the model of a new run checkpoints and resumes
 *     (its optimizer slots and metadata are not written twice).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "onnxc.h"
#include "testutil.h"

#define SEED_SPEC "784,64:relu,64:relu,10:softmax"
#define N 256

/* ---- fixtures ------------------------------------------------------------------ */

static onnxc_model *spec(const char *s, uint64_t seed)
{
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec(s, seed, &m, &err), ONNXC_OK, "%s", err.message);
    return m;
}

static onnxc_trainer *trainer(onnxc_model *m, onnxc_optimizer_kind kind, double lr)
{
    onnxc_trainer_options o;
    onnxc_trainer_options_default(&o);
    onnxc_optimizer_defaults(kind, &o.optimizer);
    if (lr > 0) o.optimizer.learning_rate = lr;
    o.threads = 1;
    onnxc_trainer *t;
    onnxc_error err;
    cr_assert_eq(onnxc_trainer_create(m, &o, &t, &err), ONNXC_OK, "%s", err.message);
    return t;
}

/* x [N, 784] uniform in [0, 1) and labels y [N] in 0..9 as .npy files in
 * dir; `poison` >= 0 puts a NaN into sample `poison`. */
static void write_data(const char *dir, const char *xname, const char *yname, int poison)
{
    float *x = malloc((size_t)N * 784 * sizeof *x);
    int64_t y[N];
    tu_rng r = {5};
    for (size_t i = 0; i < (size_t)N * 784; i++) x[i] = (float)tu_rng_uniform(&r, 0, 1);
    for (size_t i = 0; i < N; i++) y[i] = (int64_t)(tu_rng_next(&r) % 10);
    if (poison >= 0) x[(size_t)poison * 784 + 3] = NAN;
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {N, 784}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {N}, .data = y};
    char *xp = tu_path("%s/%s", dir, xname), *yp = tu_path("%s/%s", dir, yname);
    cr_assert(tu_npy_write(xp, &xt) && tu_npy_write(yp, &yt));
    free(xp);
    free(yp);
    free(x);
}

/* Every initializer's bytes, concatenated. */
static void *weights(const onnxc_model *m, size_t *size)
{
    char *b = NULL;
    *size = 0;
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor v;
        cr_assert_eq(onnxc_model_initializer(m, i, &v), ONNXC_OK);
        b = realloc(b, *size + v.capacity);
        memcpy(b + *size, v.data, v.capacity);
        *size += v.capacity;
    }
    return b;
}

static bool all_finite(const onnxc_model *m)
{
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor v;
        cr_assert_eq(onnxc_model_initializer(m, i, &v), ONNXC_OK);
        if (v.dtype != ONNXC_FLOAT) continue;
        for (size_t j = 0; j < v.capacity / sizeof(float); j++)
            if (!isfinite(((const float *)v.data)[j])) return false;
    }
    return true;
}

/* The first float initializer of rank 2: the first Dense kernel [in, out]. */
static onnxc_tensor first_kernel(onnxc_model *m)
{
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor v;
        cr_assert_eq(onnxc_model_initializer(m, i, &v), ONNXC_OK);
        if (v.dtype == ONNXC_FLOAT && v.rank == 2) return v;
    }
    cr_assert_fail("no kernel");
    return (onnxc_tensor){0};
}

static tu_proc run_cli(const char *const *argv)
{
    tu_proc p;
    tu_run(argv, 600, &p);
    return p;
}

/* ---- the library ---------------------------------------------------------------- */

Test(train_safety, nan_gradient_behind_a_finite_loss)
{
    /* 4 -> 8 relu -> 2 softmax. Feature 0 is -Inf in every sample and the
     * first kernel's row 0 is positive, so every hidden pre-activation is
     * -Inf, the ReLU outputs 0 and the loss is log(2), finite. Backward, the
     * ReLU passes a zero gradient and dW1[0, :] = sum(x0 * 0) = NaN. */
    onnxc_model *m = spec("4,8:relu,2:softmax", 1);
    onnxc_tensor k = first_kernel(m);
    cr_assert_eq(k.dims[0], 4);
    for (int64_t j = 0; j < k.dims[1]; j++) ((float *)k.data)[j] = 0.5f;
    enum { B = 16 };
    float x[B * 4];
    int64_t y[B];
    tu_rng r = {3};
    for (size_t i = 0; i < B; i++) {
        x[i * 4] = -INFINITY;
        for (size_t j = 1; j < 4; j++) x[i * 4 + j] = (float)tu_rng_uniform(&r, -1, 1);
        y[i] = (int64_t)(i % 2);
    }
    size_t nb, na;
    void *before = weights(m, &nb);
    onnxc_trainer *t = trainer(m, ONNXC_OPT_ADAM, 0);
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {B, 4}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {B}, .data = y};
    onnxc_error err;
    onnxc_batch_result res;
    cr_assert_eq(onnxc_trainer_step(t, &xt, &yt, &res, &err), ONNXC_ERR_NUMERIC,
                 "a NaN gradient must stop the step: %s", err.message);
    cr_expect(strstr(err.message, "step 1") && strstr(err.message, "gradient"),
              "the message should name the step and the gradient: %s", err.message);
    void *after = weights(m, &na);
    cr_expect(na == nb && !memcmp(before, after, nb), "a refused step changed the weights");
    cr_expect_eq(onnxc_trainer_iterations(t), 0, "a refused step counts as an iteration");
    free(after);

    /* The same through fit(): the error comes back, nothing is checkpointed. */
    onnxc_dataset *ds;
    cr_assert_eq(onnxc_dataset_from_tensors(&xt, &yt, &ds, &err), ONNXC_OK, "%s", err.message);
    char *dir = tu_tmpdir("train-safety");
    char *ck = tu_path("%s/ck.onnx", dir);
    onnxc_fit_options fo = {.epochs = 2, .batch_size = 8, .checkpoint_path = ck};
    cr_expect_eq(onnxc_trainer_fit(t, ds, &fo, NULL, 0, &err), ONNXC_ERR_NUMERIC);
    cr_expect(strstr(err.message, "step 1"), "%s", err.message);
    cr_expect(!tu_exists(ck), "a checkpoint was written although no step succeeded");
    after = weights(m, &na);
    cr_expect(na == nb && !memcmp(before, after, nb), "fit changed the weights");
    free(before);
    free(after);
    onnxc_dataset_free(ds);
    onnxc_trainer_free(t);
    onnxc_model_free(m);
    free(ck);
    tu_rmtree(dir);
    free(dir);
}

Test(train_safety, checkpoint_refuses_non_finite_state)
{
    char *dir = tu_tmpdir("train-safety-ck");
    char *ck = tu_path("%s/ck.onnx", dir);
    onnxc_model *m = spec("4,8:relu,2:softmax", 1);
    onnxc_trainer *t = trainer(m, ONNXC_OPT_ADAM, 0);
    oc_fit_state fs = {.epochs_done = 1, .batch_size = 8};
    onnxc_error err;
    cr_assert_eq(oc_checkpoint_save(t, ck, &fs, &err), ONNXC_OK, "%s", err.message);
    void *good;
    size_t good_size;
    cr_assert(tu_read_file(ck, &good, &good_size));
    onnxc_tensor k = first_kernel(m);
    ((float *)k.data)[5] = INFINITY;
    fs.epochs_done = 2;
    cr_expect_eq(oc_checkpoint_save(t, ck, &fs, &err), ONNXC_ERR_NUMERIC, "%s", err.message);
    cr_expect(strstr(err.message, ck) && strstr(err.message, "last checkpoint is kept"), "%s", err.message);
    void *now;
    size_t now_size;
    cr_assert(tu_read_file(ck, &now, &now_size));
    cr_expect(now_size == good_size && !memcmp(now, good, good_size), "the good checkpoint was replaced");
    free(good);
    free(now);
    onnxc_trainer_free(t);
    onnxc_model_free(m);
    free(ck);
    tu_rmtree(dir);
    free(dir);
}

/* ---- the CLI ------------------------------------------------------------------------ */

typedef struct cli_fixture {
    char *dir, *model, *x, *y, *xnan, *ck, *out;
} cli_fixture;

static cli_fixture cli_setup(const char *tag)
{
    cli_fixture f;
    f.dir = tu_tmpdir(tag);
    f.model = tu_path("%s/m.onnx", f.dir);
    f.x = tu_path("%s/x.npy", f.dir);
    f.y = tu_path("%s/y.npy", f.dir);
    f.xnan = tu_path("%s/xnan.npy", f.dir);
    f.ck = tu_path("%s/ck.onnx", f.dir);
    f.out = tu_path("%s/out.onnx", f.dir);
    onnxc_model *m = spec(SEED_SPEC, 3);
    onnxc_error err;
    cr_assert_eq(onnxc_model_save(m, f.model, NULL, &err), ONNXC_OK, "%s", err.message);
    onnxc_model_free(m);
    write_data(f.dir, "x.npy", "y.npy", -1);
    write_data(f.dir, "xnan.npy", "ynan.npy", 100);
    return f;
}

static void cli_free(cli_fixture *f)
{
    tu_rmtree(f->dir);
    free(f->dir);
    free(f->model);
    free(f->x);
    free(f->y);
    free(f->xnan);
    free(f->ck);
    free(f->out);
}

/* Every stderr line is an "onnxc: error: " line. */
static bool error_lines(const char *err)
{
    if (!*err) return false;
    for (const char *l = err; *l;) {
        if (strncmp(l, "onnxc: error: ", 14)) return false;
        const char *nl = strchr(l, '\n');
        if (!nl) break;
        l = nl + 1;
    }
    return true;
}

Test(train_safety, cli_divergence_keeps_the_last_good_checkpoint, .timeout = 300)
{
    cli_fixture f = cli_setup("train-diverge");
    /* One step per epoch; with SGD at 1e6 the weights blow up within a few. */
    tu_proc p = run_cli((const char *[]){ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "--epochs", "20",
                                         "--batch-size", "256", "--optimizer", "sgd", "--lr", "1e6", "--checkpoint",
                                         f.ck, "-o", f.out, NULL});
    cr_expect_eq(p.status, 2, "a diverging run should stop with exit 2, got %d\n%s%s", p.status, p.out, p.err);
    cr_expect(error_lines(p.err) && strstr(p.err, "step "), "the message should name the step:\n%s", p.err);
    cr_expect(!tu_exists(f.out), "an output model was written after the failure");
    cr_log_info("diverging run: %s", p.err);
    tu_proc_free(&p);
    /* The checkpoint on disk is a good one: it loads as a checkpoint of the
     * same settings, holds finite values, and is from before the failure. */
    cr_assert(tu_exists(f.ck), "no checkpoint was kept (the first epochs were fine)");
    onnxc_model *m = spec(SEED_SPEC, 3), *ckm;
    onnxc_error err;
    cr_assert_eq(onnxc_model_load(f.ck, NULL, &ckm, &err), ONNXC_OK, "%s", err.message);
    cr_expect(all_finite(ckm), "the kept checkpoint holds NaN or Inf");
    onnxc_trainer *t = trainer(m, ONNXC_OPT_SGD, 1e6);
    oc_fit_state fs = {.batch_size = 256};
    cr_expect_eq(oc_checkpoint_load(t, f.ck, &fs, &err), ONNXC_OK, "%s", err.message);
    cr_expect(fs.epochs_done >= 1 && fs.epochs_done < 20, "epochs done: %d", fs.epochs_done);
    onnxc_trainer_free(t);
    onnxc_model_free(ckm);
    onnxc_model_free(m);
    cli_free(&f);
}

Test(train_safety, cli_nan_data_on_resume_keeps_the_checkpoint, .timeout = 300)
{
    cli_fixture f = cli_setup("train-nan-resume");
    tu_proc p = run_cli((const char *[]){ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "--epochs", "1",
                                         "--checkpoint", f.ck, "-o", f.out, NULL});
    cr_assert_eq(p.status, 0, "%s%s", p.out, p.err);
    tu_proc_free(&p);
    unlink(f.out);
    void *good;
    size_t good_size;
    cr_assert(tu_read_file(f.ck, &good, &good_size));
    /* Epoch 2 (steps 9..16 with batch 32) meets sample 100's NaN. */
    char *ynan = tu_path("%s/ynan.npy", f.dir);
    p = run_cli((const char *[]){ONNXC_CLI, "train", f.model, "--x", f.xnan, "--y", ynan, "--epochs", "3", "--resume",
                                 f.ck, "--checkpoint", f.ck, "-o", f.out, NULL});
    cr_expect_eq(p.status, 2, "NaN data should stop with exit 2, got %d\n%s%s", p.status, p.out, p.err);
    cr_expect(error_lines(p.err) && strstr(p.err, "step ") && strstr(p.err, "NaN"),
              "the message should name the step and the NaN:\n%s", p.err);
    int step = 0;
    const char *at = strstr(p.err, "step ");
    if (at) step = atoi(at + 5);
    cr_expect(step >= 9 && step <= 16, "the failing step should be in epoch 2 (9..16), got %d: %s", step, p.err);
    cr_expect(!tu_exists(f.out), "an output model was written after the failure");
    tu_proc_free(&p);
    void *now;
    size_t now_size;
    cr_assert(tu_read_file(f.ck, &now, &now_size));
    cr_expect(now_size == good_size && !memcmp(now, good, good_size), "the last good checkpoint changed");
    free(now);
    /* And it still resumes with good data. */
    p = run_cli((const char *[]){ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "--epochs", "2", "--resume",
                                 f.ck, "-o", f.out, NULL});
    cr_expect_eq(p.status, 0, "resuming from the kept checkpoint failed:\n%s%s", p.out, p.err);
    tu_proc_free(&p);
    free(good);
    free(ynan);
    cli_free(&f);
}

/* --resume FILE with extra options; refused with exit 2, a message naming
 * FILE and containing `needle`, and no training. */
static void expect_resume_refused(const cli_fixture *f, const char *model, const char *ck, const char *needle,
                                  const char *const *extra, const char *what)
{
    const char *argv[32] = {ONNXC_CLI, "train", model, "--x", f->x, "--y", f->y, "--epochs", "2", "--resume", ck,
                            "-o", f->out};
    size_t n = 13;
    for (size_t i = 0; extra && extra[i]; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    tu_proc p = run_cli(argv);
    cr_expect_eq(p.status, 2, "%s: --resume should exit 2, got %d\n%s%s", what, p.status, p.out, p.err);
    cr_expect(error_lines(p.err) && strstr(p.err, ck) && strstr(p.err, needle),
              "%s: expected an error naming %s and saying '%s':\n%s", what, ck, needle, p.err);
    cr_expect(!strstr(p.out, "Epoch "), "%s: training started anyway:\n%s", what, p.out);
    cr_expect(!tu_exists(f->out), "%s: an output model was written", what);
    cr_log_info("%s: %s", what, p.err);
    unlink(f->out);
    tu_proc_free(&p);
}

Test(train_safety, cli_mismatched_checkpoints_are_refused, .timeout = 300)
{
    cli_fixture f = cli_setup("train-mismatch");
    tu_proc p = run_cli((const char *[]){ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "--epochs", "1",
                                         "--checkpoint", f.ck, "-o", f.out, NULL});
    cr_assert_eq(p.status, 0, "%s%s", p.out, p.err);
    tu_proc_free(&p);
    unlink(f.out);
    /* The intact checkpoint resumes, so each refusal below is the mismatch's. */
    p = run_cli((const char *[]){ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "--epochs", "2", "--resume",
                                 f.ck, "-o", f.out, NULL});
    cr_assert_eq(p.status, 0, "%s%s", p.out, p.err);
    tu_proc_free(&p);
    unlink(f.out);

    char *other = tu_path("%s/other.onnx", f.dir);
    onnxc_model *m = spec("784,32:relu,10:softmax", 3);
    onnxc_error err;
    cr_assert_eq(onnxc_model_save(m, other, NULL, &err), ONNXC_OK, "%s", err.message);
    onnxc_model_free(m);
    expect_resume_refused(&f, other, f.ck, "does not match", NULL, "another architecture");
    expect_resume_refused(&f, f.model, f.ck, "optimizer", (const char *[]){"--optimizer", "sgd", NULL},
                          "another optimizer");
    expect_resume_refused(&f, f.model, f.ck, "learning rate", (const char *[]){"--lr", "0.5", NULL},
                          "another learning rate");
    expect_resume_refused(&f, f.model, f.ck, "loss", (const char *[]){"--loss", "categorical_crossentropy", NULL},
                          "another loss");
    expect_resume_refused(&f, f.model, f.ck, "batch size", (const char *[]){"--batch-size", "16", NULL},
                          "another batch size");
    expect_resume_refused(&f, f.model, f.model, "not an onnxc checkpoint", NULL, "a plain model");
    free(other);
    cli_free(&f);
}

/* A checkpoint is a valid model: training it again (as the MODEL argument)
 * writes a checkpoint with one set of optimizer slots, which resumes. */
Test(train_safety, checkpoint_as_the_model_of_a_new_run, .timeout = 300)
{
    cli_fixture f = cli_setup("train-ck-model");
    tu_proc p = run_cli((const char *[]){ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "--epochs", "1",
                                         "--checkpoint", f.ck, "-o", f.out, NULL});
    cr_assert_eq(p.status, 0, "%s%s", p.out, p.err);
    tu_proc_free(&p);
    char *ck2 = tu_path("%s/ck2.onnx", f.dir), *out2 = tu_path("%s/out2.onnx", f.dir);
    p = run_cli((const char *[]){ONNXC_CLI, "train", f.ck, "--x", f.x, "--y", f.y, "--epochs", "1", "--checkpoint",
                                 ck2, "-o", out2, NULL});
    cr_expect_eq(p.status, 0, "training a checkpoint as the model failed:\n%s%s", p.out, p.err);
    tu_proc_free(&p);
    p = run_cli((const char *[]){ONNXC_CLI, "train", f.ck, "--x", f.x, "--y", f.y, "--epochs", "2", "--resume", ck2,
                                 "-o", out2, NULL});
    cr_expect_eq(p.status, 0, "resuming from a checkpoint of a checkpoint failed:\n%s%s", p.out, p.err);
    tu_proc_free(&p);
    free(ck2);
    free(out2);
    cli_free(&f);
}
