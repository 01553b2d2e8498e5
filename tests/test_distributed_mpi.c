/*
 * `onnxc train --distributed` and `onnxc run --distributed` under a real
 * mpirun (Open MPI), 2 ranks on this machine, against the same commands
 * run as one process:
 *
 *   - one epoch of the seed model (onnxc init 784,64:relu,64:relu,10:softmax)
 *     on the first 6000 Fashion-MNIST training images, batch 32, Adam, with a
 *     10% validation split: the saved weights differ from one process's by at
 *     most 1e-6, the logged loss likewise, and only rank 0 printed and wrote;
 *   - run: 1001 rows split 501/500, gathered in order, equal to one process;
 *   - checkpoint and resume on 2 ranks end bit-identical to 2 epochs straight
 *     on 2 ranks (and within 1e-5 of one process: two epochs of Adam let
 *     the rounding differences grow past the one-epoch 1e-6);
 *   - a failure on one rank (rank 1 cannot read its data; a NaN met in the
 *     second epoch) stops both ranks with one message naming the rank, exit 2,
 *     and leaves the last checkpoint byte for byte as it was.
 *
 * Runs only against a CLI built with -DONNXC_MPI=ON (the root CMakeLists
 * defines ONNXC_MPI and ONNXC_MPIEXEC for this test then); otherwise every
 * test is skipped, unless ONNXC_REQUIRE_MPI=1 (CI's MPI stage) makes that a
 * failure. Ranks run with one kernel thread each and
 * `--mca mpi_yield_when_idle 1`, so that waiting ranks do not spin on the
 * shared cores of a CI machine.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "onnxc.h"
#include "testutil.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define SAMPLES 6000
#define TOLERANCE 1e-6

#ifndef ONNXC_MPIEXEC
#define ONNXC_MPIEXEC "mpirun"
#endif

static void need_mpi(void)
{
#ifndef ONNXC_MPI
    const char *req = getenv("ONNXC_REQUIRE_MPI");
    cr_assert(!req || strcmp(req, "1"), "ONNXC_REQUIRE_MPI=1 but this build's CLI has no MPI (-DONNXC_MPI=ON)");
    cr_skip_test("the CLI is built without MPI (-DONNXC_MPI=ON)");
#endif
}

typedef struct fixture {
    char *dir, *model, *x, *y;
} fixture;

/* The seed model and the first 6000 Fashion-MNIST images (uint8 [n, 28, 28])
 * and labels (int64 [n]) as .npy files in a new folder. */
static fixture setup(const char *tag)
{
    fixture f = {.dir = tu_tmpdir(tag)};
    f.model = tu_path("%s/seed.onnx", f.dir);
    f.x = tu_path("%s/x.npy", f.dir);
    f.y = tu_path("%s/y.npy", f.dir);
    tu_proc p;
    tu_run((const char *[]){ONNXC_CLI, "init", "784,64:relu,64:relu,10:softmax", "-o", f.model, NULL}, 60, &p);
    cr_assert_eq(p.status, 0, "onnxc init: %s", p.err);
    tu_proc_free(&p);
    onnxc_dataset *ds;
    onnxc_error err;
    if (onnxc_dataset_load_idx(FASHION_DIR, "train", &ds, &err) != ONNXC_OK)
        cr_skip_test("no Fashion-MNIST in %s: %s", FASHION_DIR, err.message);
    cr_assert_eq(ds->x_type, ONNXC_UINT8);
    onnxc_tensor xt = {.dtype = ONNXC_UINT8, .rank = 3, .dims = {SAMPLES, 28, 28}, .data = (void *)ds->x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {SAMPLES}, .data = (void *)ds->y};
    cr_assert(tu_npy_write(f.x, &xt) && tu_npy_write(f.y, &yt), "cannot write the data into %s", f.dir);
    onnxc_dataset_free(ds);
    return f;
}

static void teardown(fixture *f)
{
    tu_rmtree(f->dir);
    free(f->dir);
    free(f->model);
    free(f->x);
    free(f->y);
}

/* argv of `mpirun ... -np 2 <cmd...>` (cmd NULL-terminated) into out. */
static void mpirun_argv(const char **out, size_t cap, const char *const *cmd)
{
    size_t n = 0;
    out[n++] = ONNXC_MPIEXEC;
    if (geteuid() == 0) out[n++] = "--allow-run-as-root";
    static const char *const flags[] = {"--oversubscribe", "--bind-to", "none", "--mca", "mpi_yield_when_idle", "1",
                                        /* no CMA: containers often forbid process_vm_readv */
                                        "--mca", "btl_vader_single_copy_mechanism", "none", "-np", "2"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) out[n++] = flags[i];
    for (size_t i = 0; cmd[i]; i++) {
        cr_assert_lt(n + 1, cap);
        out[n++] = cmd[i];
    }
    out[n] = NULL;
}

/* Run argv; assert its exit code; p keeps the output for the caller. */
static void run_expect(const char *const *argv, int want, tu_proc *p)
{
    tu_run(argv, 300, p);
    char *cmd = tu_argv_str(argv);
    cr_assert_eq(p->status, want, "`%s` exited %d, expected %d\nstdout: %s\nstderr: %s", cmd, p->status, want, p->out,
                 p->err);
    free(cmd);
}

#define CMD(...) ((const char *[]){__VA_ARGS__, NULL})

static void one_process(const char *const *cmd)
{
    tu_proc p;
    run_expect(cmd, 0, &p);
    tu_proc_free(&p);
}

/* The same command on 2 ranks; returns its output. */
static tu_proc two_ranks(const char *const *cmd, int want)
{
    const char *argv[64];
    mpirun_argv(argv, 64, cmd);
    tu_proc p;
    run_expect(argv, want, &p);
    return p;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *at = strstr(s, needle); at; at = strstr(at + 1, needle)) n++;
    return n;
}

/* Largest |a - b| over the float initializers of two model files. */
static double max_diff(const char *pa, const char *pb)
{
    onnxc_model *a, *b;
    onnxc_error err;
    cr_assert_eq(onnxc_model_load(pa, NULL, &a, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(onnxc_model_load(pb, NULL, &b, &err), ONNXC_OK, "%s", err.message);
    double worst = 0.0;
    cr_assert_eq(onnxc_model_initializer_count(a), onnxc_model_initializer_count(b));
    for (size_t i = 0; i < onnxc_model_initializer_count(a); i++) {
        onnxc_tensor va, vb;
        onnxc_model_initializer(a, i, &va);
        onnxc_model_initializer(b, i, &vb);
        cr_assert_str_eq(va.name, vb.name);
        if (va.dtype != ONNXC_FLOAT) continue;
        size_t n = 1;
        for (int d = 0; d < va.rank; d++) n *= (size_t)va.dims[d];
        for (size_t k = 0; k < n; k++) {
            double d = fabs((double)((const float *)va.data)[k] - ((const float *)vb.data)[k]);
            if (!(d <= worst)) worst = d;
        }
    }
    onnxc_model_free(a);
    onnxc_model_free(b);
    return worst;
}

/* "loss" of the log line of `epoch` (1-based). */
static double logged_loss(const char *log, int epoch)
{
    void *data;
    size_t size;
    cr_assert(tu_read_file(log, &data, &size), "cannot read %s", log);
    char key[32];
    snprintf(key, sizeof key, "{\"epoch\":%d,\"loss\":", epoch);
    const char *at = strstr(data, key);
    cr_assert(at, "%s has no epoch %d: %s", log, epoch, (char *)data);
    double v = strtod(at + strlen(key), NULL);
    free(data);
    return v;
}

static size_t lines(const char *path)
{
    void *data;
    size_t size;
    cr_assert(tu_read_file(path, &data, &size), "cannot read %s", path);
    size_t n = count(data, "\n");
    free(data);
    return n;
}

/* The default build: --distributed is a usage error that says what is missing. */
Test(distributed_mpi, without_mpi_distributed_is_a_usage_error)
{
#ifdef ONNXC_MPI
    cr_skip_test("this CLI has MPI");
#endif
    static const char *const cmds[][8] = {
        {ONNXC_CLI, "train", "m.onnx", "--x", "x.npy", "--y", "y.npy", NULL},
        {ONNXC_CLI, "run", "m.onnx", "-i", "x.npy", NULL},
    };
    for (size_t i = 0; i < 2; i++) {
        const char *argv[12];
        size_t n = 0;
        for (; cmds[i][n]; n++) argv[n] = cmds[i][n];
        if (i == 0) argv[n++] = "-o", argv[n++] = "out.onnx";
        argv[n++] = "--distributed";
        argv[n] = NULL;
        tu_proc p;
        run_expect(argv, 1, &p);
        cr_expect(strstr(p.err, "--distributed needs onnxc built with MPI (cmake -DONNXC_MPI=ON)"), "stderr: %s",
                  p.err);
        tu_proc_free(&p);
    }
}

Test(distributed_mpi, train_two_ranks_equals_one_process)
{
    need_mpi();
    fixture f = setup("mpi-train");
    char *single = tu_path("%s/single.onnx", f.dir), *dist = tu_path("%s/dist.onnx", f.dir);
    char *slog = tu_path("%s/single.jsonl", f.dir), *dlog = tu_path("%s/dist.jsonl", f.dir);
    one_process(CMD(ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "-o", single, "--threads", "1",
                    "--validation-split", "0.1", "--log", slog));
    tu_proc p = two_ranks(CMD(ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "-o", dist, "--threads", "1",
                              "--validation-split", "0.1", "--log", dlog, "--distributed"), 0);
    /* Rank 0 alone talks. */
    cr_expect_eq(count(p.out, "Train on 5400 samples, validate on 600 samples"), 1, "stdout: %s", p.out);
    cr_expect_eq(count(p.out, "Distributed over 2 ranks"), 1, "stdout: %s", p.out);
    cr_expect_eq(count(p.out, "Saved "), 1, "stdout: %s", p.out);
    cr_expect_eq(count(p.err, "onnxc"), 0, "stderr: %s", p.err);
    tu_proc_free(&p);
    double d = max_diff(single, dist);
    cr_log_info("seed model, 1 epoch on %d Fashion-MNIST samples: max |w(np=2) - w(np=1)| = %.3g\n", SAMPLES, d);
    cr_expect_leq(d, TOLERANCE, "max weight difference %.3g between -np 2 and one process", d);
    cr_expect_eq(lines(dlog), 1);
    double l1 = logged_loss(slog, 1), l2 = logged_loss(dlog, 1);
    cr_expect_leq(fabs(l1 - l2), TOLERANCE, "logged loss %.9g (np=2) vs %.9g (np=1)", l2, l1);
    free(single);
    free(dist);
    free(slog);
    free(dlog);
    teardown(&f);
}

Test(distributed_mpi, run_gathers_rows_in_order)
{
    need_mpi();
    fixture f = setup("mpi-run");
    /* 1001 rows of float pixels [0, 1]: an odd count, split 500/501. */
    char *x = tu_path("%s/rows.npy", f.dir), *o1 = tu_path("%s/o1.npy", f.dir), *o2 = tu_path("%s/o2.npy", f.dir);
    onnxc_tensor raw, rows = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {1001, 784}};
    char why[256];
    cr_assert(tu_npy_read(f.x, &raw, why, sizeof why), "%s", why);
    rows.data = malloc(1001 * 784 * sizeof(float));
    for (size_t i = 0; i < 1001 * 784; i++) ((float *)rows.data)[i] = ((const uint8_t *)raw.data)[i] / 255.0f;
    cr_assert(tu_npy_write(x, &rows));
    free(raw.data);
    free(rows.data);
    one_process(CMD(ONNXC_CLI, "run", f.model, "-i", x, "-o", o1, "--threads", "1"));
    tu_proc p = two_ranks(CMD(ONNXC_CLI, "run", f.model, "-i", x, "-o", o2, "--threads", "1", "--distributed"), 0);
    tu_proc_free(&p);
    onnxc_tensor a, b;
    cr_assert(tu_npy_read(o1, &a, why, sizeof why), "%s", why);
    cr_assert(tu_npy_read(o2, &b, why, sizeof why), "%s", why);
    cr_assert_eq(b.rank, 2);
    cr_assert_eq(b.dims[0], 1001);
    cr_assert_eq(b.dims[1], 10);
    double worst = 0.0;
    for (size_t i = 0; i < 1001 * 10; i++) {
        double d = fabs((double)((float *)a.data)[i] - ((float *)b.data)[i]);
        if (!(d <= worst)) worst = d;
    }
    cr_log_info("run: max |out(np=2) - out(np=1)| = %.3g over 1001 rows\n", worst);
    cr_expect_leq(worst, TOLERANCE);
    free(a.data);
    free(b.data);
    free(x);
    free(o1);
    free(o2);
    teardown(&f);
}

Test(distributed_mpi, checkpoint_resume_and_failures)
{
    need_mpi();
    fixture f = setup("mpi-resume");
    char *straight = tu_path("%s/straight.onnx", f.dir), *out = tu_path("%s/out.onnx", f.dir);
    char *ck = tu_path("%s/ck.onnx", f.dir), *log = tu_path("%s/log.jsonl", f.dir);
    char *missing = tu_path("%s/missing.npy", f.dir), *xnan = tu_path("%s/xnan.npy", f.dir);
    char *single = tu_path("%s/single.onnx", f.dir);
    one_process(CMD(ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "-o", single, "--threads", "1", "--epochs",
                    "2"));
    tu_proc p = two_ranks(CMD(ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "-o", straight, "--threads", "1",
                              "--epochs", "2", "--distributed"), 0);
    tu_proc_free(&p);
    /* Epoch 1 on 2 ranks, checkpointed by rank 0. */
    p = two_ranks(CMD(ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "-o", out, "--threads", "1",
                              "--checkpoint", ck, "--log", log, "--distributed"), 0);
    tu_proc_free(&p);
    void *ck_bytes;
    size_t ck_size;
    cr_assert(tu_read_file(ck, &ck_bytes, &ck_size), "no checkpoint %s", ck);

    /* Rank 1 cannot read its data (MPMD: each rank its own command line):
     * both stop before training, one message, exit 2. */
    const char *mpmd[64];
    mpirun_argv(mpmd, 64, CMD(ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "-o", out, "--threads", "1",
                              "--epochs", "2", "--resume", ck, "--checkpoint", ck, "--distributed"));
    size_t n = 0;
    while (mpmd[n]) n++;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(mpmd[i], "2") && i > 0 && !strcmp(mpmd[i - 1], "-np")) mpmd[i] = "1";
    const char *tail[] = {":", "-np", "1", ONNXC_CLI, "train", f.model, "--x", missing, "--y", f.y, "-o", out,
                          "--threads", "1", "--epochs", "2", "--resume", ck, "--checkpoint", ck, "--distributed", NULL};
    for (size_t i = 0; tail[i]; i++) mpmd[n++] = tail[i];
    mpmd[n] = NULL;
    run_expect(mpmd, 2, &p);
    cr_expect_eq(count(p.err, "onnxc: error:"), 1, "stderr: %s", p.err);
    cr_expect(strstr(p.err, "onnxc: error: rank 1: ") && strstr(p.err, "missing.npy"), "stderr: %s", p.err);
    tu_proc_free(&p);

    /* A NaN met in epoch 2 (float pixels / 255, one sample NaN): every rank
     * stops at the same step with the message of the rank that met it. */
    onnxc_tensor raw, xf = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {SAMPLES, 784}};
    char why[256];
    cr_assert(tu_npy_read(f.x, &raw, why, sizeof why), "%s", why);
    xf.data = malloc((size_t)SAMPLES * 784 * sizeof(float));
    for (size_t i = 0; i < (size_t)SAMPLES * 784; i++) ((float *)xf.data)[i] = ((const uint8_t *)raw.data)[i] / 255.0f;
    ((float *)xf.data)[4321 * 784 + 5] = NAN;
    cr_assert(tu_npy_write(xnan, &xf));
    free(raw.data);
    free(xf.data);
    p = two_ranks(CMD(ONNXC_CLI, "train", f.model, "--x", xnan, "--y", f.y, "-o", out, "--threads", "1", "--epochs",
                      "2", "--resume", ck, "--checkpoint", ck, "--distributed"), 2);
    cr_expect_eq(count(p.err, "onnxc: error:"), 1, "stderr: %s", p.err);
    cr_expect(strstr(p.err, "onnxc: error: rank ") && strstr(p.err, ": epoch 2, batch ") &&
                  strstr(p.err, ": the loss is NaN"),
              "stderr: %s", p.err);
    tu_proc_free(&p);
    void *now;
    size_t now_size;
    cr_assert(tu_read_file(ck, &now, &now_size));
    cr_expect(now_size == ck_size && !memcmp(now, ck_bytes, ck_size), "the checkpoint changed after a failed run");
    free(now);

    /* Resume on 2 ranks: equal to 2 epochs straight on one process; rank 0
     * appended the second epoch to the log. */
    p = two_ranks(CMD(ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "-o", out, "--threads", "1", "--epochs",
                      "2", "--resume", ck, "--checkpoint", ck, "--log", log, "--distributed"), 0);
    tu_proc_free(&p);
    cr_expect_eq(max_diff(straight, out), 0.0, "resumed and straight runs on 2 ranks differ");
    double d = max_diff(single, out);
    cr_log_info("2 epochs, 2 ranks (resumed after 1) vs one process: max diff %.3g\n", d);
    cr_expect_leq(d, 1e-5);
    cr_expect_eq(lines(log), 2);
    free(ck_bytes);
    free(single);
    free(straight);
    free(out);
    free(ck);
    free(log);
    free(missing);
    free(xnan);
    teardown(&f);
}
