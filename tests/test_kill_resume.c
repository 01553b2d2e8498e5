/*
 * Training that is interrupted by SIGKILL and resumed from its checkpoint
 * ends with weights bit-identical to training that ran straight through,
 * through the onnxc executable:
 *
 *   - `onnxc train ... --epochs 4 --checkpoint ck.onnx` is killed during
 *     epoch 3 (the JSONL log, flushed after each epoch's checkpoint, says
 *     when epoch 2 is done), then `--resume ck.onnx` finishes it; every
 *     initializer of the result equals the straight run's byte for byte, and
 *     the resumed epochs log the same loss and accuracy;
 *   - a run killed again and again, at random moments and on purpose while
 *     the checkpoint's temporary file is being written, always leaves either
 *     no checkpoint or a complete one (every weight and optimizer slot, the
 *     metadata), and still ends bit-identical after the last resume;
 *   - a truncated or byte-flipped checkpoint given to --resume is refused with
 *     exit 2 and a message naming it, before any training.
 *
 * The data are synthetic (tu_rng): 784 uniform features per sample and the
 * label argmax(x . P) for a fixed random projection P [784, 10].
 */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "graph.h"
#include "onnxc.h"
#include "testutil.h"

#define FEATURES 784
#define CLASSES 10

/* ---- fixtures ------------------------------------------------------------ */

/* x.npy float32 [n, 784] and y.npy int64 [n] in dir. */
static void make_data(const char *dir, size_t n, uint64_t seed)
{
    tu_rng r = {seed};
    float *proj = malloc((size_t)FEATURES * CLASSES * sizeof *proj); /* [784, 10] */
    for (size_t i = 0; i < (size_t)FEATURES * CLASSES; i++) proj[i] = (float)tu_rng_uniform(&r, -1, 1);
    float *x = malloc(n * FEATURES * sizeof *x); /* [n, 784] */
    int64_t *y = malloc(n * sizeof *y);          /* [n] */
    for (size_t i = 0; i < n; i++) {
        double score[CLASSES] = {0};
        for (size_t j = 0; j < FEATURES; j++) {
            x[i * FEATURES + j] = (float)tu_rng_uniform(&r, 0, 1);
            for (int c = 0; c < CLASSES; c++) score[c] += x[i * FEATURES + j] * proj[j * CLASSES + c];
        }
        y[i] = 0;
        for (int c = 1; c < CLASSES; c++)
            if (score[c] > score[y[i]]) y[i] = c;
    }
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {(int64_t)n, FEATURES}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {(int64_t)n}, .data = y};
    char *xp = tu_path("%s/x.npy", dir), *yp = tu_path("%s/y.npy", dir);
    cr_assert(tu_npy_write(xp, &xt) && tu_npy_write(yp, &yt), "cannot write the data into %s", dir);
    free(xp);
    free(yp);
    free(x);
    free(y);
    free(proj);
}

/* Run the CLI to completion; assert the exit code. */
static void cli(int want, const char *const *argv)
{
    tu_proc p;
    tu_run(argv, 600, &p);
    char *cmd = tu_argv_str(argv);
    cr_assert_eq(p.status, want, "`%s` exited %d, expected %d\nstdout: %s\nstderr: %s", cmd, p.status, want, p.out,
                 p.err);
    free(cmd);
    tu_proc_free(&p);
}

/* A fresh network at dir/m.onnx and the data beside it. */
static void setup(const char *dir, const char *spec, size_t n)
{
    char *model = tu_path("%s/m.onnx", dir);
    cli(0, (const char *[]){ONNXC_CLI, "init", spec, "-o", model, "--seed", "3", NULL});
    make_data(dir, n, 17);
    free(model);
}

/* ---- child processes ------------------------------------------------------- */

/* Start argv in the background, stdin from /dev/null, stdout and stderr into
 * `log_path`. */
static pid_t spawn(const char *const *argv, const char *log_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, NULL);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "cannot start %s: %s", argv[0], strerror(rc));
    return pid;
}

/* Nonzero once the child has exited (its wait status in *status). */
static bool reaped(pid_t pid, int *status)
{
    return waitpid(pid, status, WNOHANG) == pid;
}

/* SIGKILL the child; true when the kill is what ended it (false: it had
 * already exited by itself). */
static bool kill_child(pid_t pid)
{
    kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* ---- files ------------------------------------------------------------------ */

static size_t count_lines(const char *path)
{
    void *data;
    size_t size, n = 0;
    if (!tu_read_file(path, &data, &size)) return 0;
    for (size_t i = 0; i < size; i++) n += ((char *)data)[i] == '\n';
    free(data);
    return n;
}

/* One JSONL log line: epoch, loss and accuracy, as the CLI writes them
 * (%.17g, so the doubles round-trip exactly). */
typedef struct log_line {
    int epoch;
    double loss, accuracy, seconds;
} log_line;

static size_t read_log(const char *path, log_line *lines, size_t cap)
{
    void *data;
    size_t size, n = 0;
    cr_assert(tu_read_file(path, &data, &size), "cannot read %s", path);
    char *save = NULL;
    for (char *l = strtok_r(data, "\n", &save); l && n < cap; l = strtok_r(NULL, "\n", &save), n++) {
        cr_assert_eq(sscanf(l, "{\"epoch\":%d,\"loss\":%lf,\"accuracy\":%lf", &lines[n].epoch, &lines[n].loss,
                            &lines[n].accuracy), 3, "%s: bad line: %s", path, l);
        const char *s = strstr(l, "\"seconds\":");
        cr_assert(s && sscanf(s, "\"seconds\":%lf", &lines[n].seconds) == 1, "%s: no seconds: %s", path, l);
    }
    free(data);
    return n;
}

/* Entries of dir starting with `prefix`. */
static size_t count_prefixed(const char *dir, const char *prefix, bool remove_them)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot list %s", dir);
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix))) continue;
        n++;
        if (remove_them) {
            char *p = tu_path("%s/%s", dir, e->d_name);
            unlink(p);
            free(p);
        }
    }
    closedir(d);
    return n;
}

static const char *meta(const onnxc_model *m, const char *key)
{
    for (size_t i = 0; i < m->proto->n_metadata_props; i++)
        if (!strcmp(m->proto->metadata_props[i]->key, key)) return m->proto->metadata_props[i]->value;
    return NULL;
}

/*
 * The checkpoint at `path` is absent (returns -1) or complete: it loads, holds
 * every weight of `ref` with the same shape plus Adam's m and v for each, and
 * metadata saying how many epochs are done (returned).
 */
static int checkpoint_state(const char *path, const onnxc_model *ref, const char *when)
{
    if (!tu_exists(path)) return -1;
    onnxc_model *ck;
    onnxc_error err;
    cr_assert_eq(onnxc_model_load(path, NULL, &ck, &err), ONNXC_OK, "%s: checkpoint left by a kill %s does not load: %s",
                 path, when, err.message);
    size_t n = onnxc_model_initializer_count(ref);
    cr_assert_eq(onnxc_model_initializer_count(ck), 3 * n, "%s (%s): expected %zu tensors (weights, m, v), got %zu",
                 path, when, 3 * n, onnxc_model_initializer_count(ck));
    for (size_t i = 0; i < n; i++) {
        onnxc_tensor w;
        onnxc_model_initializer(ref, i, &w);
        static const char *const prefix[] = {"", "onnxc.optimizer.m/", "onnxc.optimizer.v/"};
        for (int slot = 0; slot < 3; slot++) {
            char *name = tu_path("%s%s", prefix[slot], w.name);
            bool found = false;
            for (size_t j = 0; j < 3 * n && !found; j++) {
                onnxc_tensor c;
                onnxc_model_initializer(ck, j, &c);
                if (strcmp(c.name, name)) continue;
                found = true;
                cr_assert(c.dtype == ONNXC_FLOAT && c.rank == w.rank && c.capacity == w.capacity,
                          "%s (%s): tensor '%s' has the wrong type or size", path, when, name);
            }
            cr_assert(found, "%s (%s): tensor '%s' is missing", path, when, name);
            free(name);
        }
    }
    const char *done = meta(ck, "onnxc.checkpoint.epochs_done");
    cr_assert_not_null(done, "%s (%s): no onnxc.checkpoint.epochs_done", path, when);
    int epochs = atoi(done);
    onnxc_model_free(ck);
    return epochs;
}

static onnxc_model *load(const char *path)
{
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_load(path, NULL, &m, &err), ONNXC_OK, "%s", err.message);
    return m;
}

/* Every initializer of a and b: same names, shapes and bytes. */
static void expect_identical(const char *a_path, const char *b_path)
{
    onnxc_model *a, *b;
    onnxc_error err;
    cr_assert_eq(onnxc_model_load(a_path, NULL, &a, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(onnxc_model_load(b_path, NULL, &b, &err), ONNXC_OK, "%s", err.message);
    size_t n = onnxc_model_initializer_count(a);
    cr_assert_eq(onnxc_model_initializer_count(b), n);
    for (size_t i = 0; i < n; i++) {
        onnxc_tensor x, y;
        cr_assert_eq(onnxc_model_initializer(a, i, &x), ONNXC_OK);
        cr_assert_eq(onnxc_model_initializer(b, i, &y), ONNXC_OK);
        cr_assert_str_eq(x.name, y.name);
        cr_assert(x.rank == y.rank && !memcmp(x.dims, y.dims, (size_t)x.rank * sizeof x.dims[0]), "'%s': shapes differ",
                  x.name);
        size_t bad = 0, first = 0;
        for (size_t k = 0; k < x.capacity; k++)
            if (((unsigned char *)x.data)[k] != ((unsigned char *)y.data)[k] && !bad++) first = k;
        cr_expect_eq(bad, 0, "'%s': %zu of %zu bytes differ between %s and %s (first at byte %zu)", x.name, bad,
                     x.capacity, a_path, b_path, first);
    }
    onnxc_model_free(a);
    onnxc_model_free(b);
}

/* ---- tests -------------------------------------------------------------------- */

/* ~0.4 s per epoch of 3000 samples at one thread on the 2-core dev machine:
 * long enough to land a kill inside epoch 3 from a 1 ms poll. */
#define KILL_SPEC "784,256:relu,256:relu,10:softmax"

Test(kill_resume, sigkill_in_epoch_3_then_resume_is_bit_identical, .timeout = 900)
{
    char *dir = tu_tmpdir("kill-resume");
    setup(dir, KILL_SPEC, 3000);
    char *model = tu_path("%s/m.onnx", dir), *x = tu_path("%s/x.npy", dir), *y = tu_path("%s/y.npy", dir);
    char *a = tu_path("%s/a.onnx", dir), *b = tu_path("%s/b.onnx", dir), *ck = tu_path("%s/ck.onnx", dir);
    char *a_log = tu_path("%s/a.jsonl", dir), *b_log = tu_path("%s/b.jsonl", dir), *out = tu_path("%s/out.txt", dir);
    onnxc_model *ref = load(model);

    /* Straight through, with 2 threads (the thread count must not matter). */
    cli(0, (const char *[]){ONNXC_CLI, "train", model, "--x", x, "--y", y, "--epochs", "4", "-o", a, "--log", a_log,
                            "--threads", "2", NULL});

    /* Interrupted: kill once epoch 2's line is in the log (its checkpoint was
     * saved just before), 30% into epoch 3. A loaded machine can delay us
     * past the end of epoch 3; then try again. */
    bool in_epoch_3 = false;
    for (int attempt = 1; attempt <= 3 && !in_epoch_3; attempt++) {
        unlink(ck);
        unlink(b_log);
        unlink(b);
        const char *argv[] = {ONNXC_CLI, "train", model, "--x", x, "--y", y, "--epochs", "4", "--checkpoint", ck,
                              "--log", b_log, "-o", b, "--threads", "1", NULL};
        pid_t pid = spawn(argv, out);
        int status;
        double start = now();
        while (count_lines(b_log) < 2) {
            cr_assert(!reaped(pid, &status), "the training run exited (status %d) before epoch 2 ended", status);
            cr_assert_lt(now() - start, 600.0, "epoch 2 did not end within 600 s");
            sleep_s(0.001);
        }
        log_line lines[2];
        read_log(b_log, lines, 2);
        sleep_s(0.3 * lines[1].seconds);
        cr_assert(kill_child(pid), "the training run finished before the kill");
        size_t done = count_lines(b_log);
        in_epoch_3 = done == 2;
        cr_log_info("attempt %d: killed %.3f s after start, %zu epochs logged", attempt, now() - start, done);
        if (!in_epoch_3) continue;
        cr_expect(!tu_exists(b), "a killed run wrote its final model %s", b);
        cr_expect_eq(checkpoint_state(ck, ref, "in epoch 3"), 2, "the checkpoint should hold epoch 2");
    }
    cr_assert(in_epoch_3, "could not kill the run during epoch 3 in 3 attempts");

    /* Resume, 2 threads, to the same 4 epochs. */
    tu_proc p;
    const char *resume[] = {ONNXC_CLI, "train", model, "--x", x, "--y", y, "--epochs", "4", "--resume", ck,
                            "--checkpoint", ck, "--log", b_log, "-o", b, "--threads", "2", NULL};
    tu_run(resume, 600, &p);
    cr_assert_eq(p.status, 0, "resume exited %d\n%s%s", p.status, p.out, p.err);
    cr_expect(!strstr(p.out, "Epoch 1/4") && !strstr(p.out, "Epoch 2/4") && strstr(p.out, "Epoch 3/4") &&
              strstr(p.out, "Epoch 4/4"), "the resumed run should train epochs 3 and 4 only:\n%s", p.out);
    tu_proc_free(&p);
    cr_expect_eq(checkpoint_state(ck, ref, "after the resumed run"), 4);

    expect_identical(a, b);
    /* The log of the interrupted run continues where it stopped, and the
     * resumed epochs saw exactly the straight run's batches and weights. */
    log_line la[8], lb[8];
    cr_assert_eq(read_log(a_log, la, 8), 4);
    cr_assert_eq(read_log(b_log, lb, 8), 4, "%s should hold epochs 1-4", b_log);
    for (int e = 0; e < 4; e++) {
        cr_expect_eq(lb[e].epoch, e + 1);
        cr_expect(la[e].loss == lb[e].loss && la[e].accuracy == lb[e].accuracy,
                  "epoch %d: straight loss %.17g accuracy %.17g, interrupted %.17g %.17g", e + 1, la[e].loss,
                  la[e].accuracy, lb[e].loss, lb[e].accuracy);
    }
    onnxc_model_free(ref);
    free(model);
    free(x);
    free(y);
    free(a);
    free(b);
    free(ck);
    free(a_log);
    free(b_log);
    free(out);
    tu_rmtree(dir);
    free(dir);
}

/* ~8 MB checkpoints (weights, m and v of 670k parameters) after epochs of
 * 20 short steps: writing the checkpoint is a sizeable share of each epoch,
 * so random kills land in it too. 24 epochs keep a run longer than the
 * 0.8 s of the latest random kill (6 epochs took ~0.5 s once the trainer's
 * GEMMs got fast, and runs then sometimes finished before any kill). */
#define CHAIN_SPEC "784,512:relu,512:relu,10:softmax"
#define CHAIN_EPOCHS "24"
#define CHAIN_ROUNDS 8

/*
 * Kill the run at the moment its checkpoint is being written: wait until the
 * second temporary file "ck.onnx.tmp.*" of this process appears (the first
 * one completes, so every round still advances by one epoch), then SIGKILL.
 * Returns true when the child was killed, false when it finished first; sets
 * *mid_write when the temporary was still there after the kill.
 */
static bool kill_during_write(pid_t pid, const char *dir, bool *mid_write)
{
    int seen = 0, status;
    bool present = false;
    double start = now();
    while (!reaped(pid, &status)) {
        bool now_present = count_prefixed(dir, "ck.onnx.tmp.", false) > 0;
        if (now_present && !present && ++seen == 2) {
            bool killed = kill_child(pid);
            *mid_write = count_prefixed(dir, "ck.onnx.tmp.", false) > 0;
            return killed;
        }
        present = now_present;
        cr_assert_lt(now() - start, 600.0, "no checkpoint write within 600 s");
        sleep_s(0.0001);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the training run failed (status %d)", status);
    return false;
}

Test(kill_resume, checkpoint_is_complete_whenever_killed, .timeout = 900)
{
    char *dir = tu_tmpdir("kill-chain");
    setup(dir, CHAIN_SPEC, 640);
    char *model = tu_path("%s/m.onnx", dir), *x = tu_path("%s/x.npy", dir), *y = tu_path("%s/y.npy", dir);
    char *a = tu_path("%s/a.onnx", dir), *b = tu_path("%s/b.onnx", dir), *ck = tu_path("%s/ck.onnx", dir);
    char *out = tu_path("%s/out.txt", dir);
    onnxc_model *ref = load(model);
    cli(0, (const char *[]){ONNXC_CLI, "train", model, "--x", x, "--y", y, "--epochs", CHAIN_EPOCHS, "-o", a,
                            "--threads", "1", NULL});

    /* Random kill times, from a seed named in every message (ONNXC_TEST_SEED repeats a run). */
    const char *seed_env = getenv("ONNXC_TEST_SEED");
    unsigned long long seed = seed_env && *seed_env ? strtoull(seed_env, NULL, 0) : (unsigned long long)time(NULL);
    tu_rng rng = {seed};
    int state = -1, mid_write = 0, kills = 0;
    bool finished = false;
    for (int round = 0; round < CHAIN_ROUNDS && !finished; round++) {
        bool resume = state >= 0;
        /* Without a checkpoint yet, the NULL ends argv before "--resume ck". */
        const char *argv[] = {ONNXC_CLI, "train", model, "--x", x, "--y", y, "--epochs", CHAIN_EPOCHS,
                              "--checkpoint", ck, "-o", b, "--threads", "1",
                              resume ? "--resume" : NULL, ck, NULL};
        pid_t pid = spawn(argv, out);
        bool killed, hit = false;
        char when[128];
        if (round % 2) {
            killed = kill_during_write(pid, dir, &hit);
            snprintf(when, sizeof when, "in round %d, while a checkpoint was written", round + 1);
        } else {
            double delay = tu_rng_uniform(&rng, 0.02, 0.8);
            sleep_s(delay);
            killed = kill_child(pid);
            hit = count_prefixed(dir, "ck.onnx.tmp.", false) > 0;
            snprintf(when, sizeof when, "in round %d, %.3f s after the start (ONNXC_TEST_SEED=%llu)", round + 1,
                     delay, seed);
        }
        if (!killed) {
            finished = true;
            break;
        }
        kills++;
        mid_write += hit;
        /* The checkpoint is never partial and never goes back in time. */
        int next = checkpoint_state(ck, ref, when);
        cr_assert_geq(next, state, "%s: the checkpoint went back from %d to %d epochs", when, state, next);
        if (next < 0) cr_log_info("%s: no checkpoint yet", when);
        else cr_log_info("%s: checkpoint complete, %d epoch(s) done%s", when, next,
                         hit ? " (killed mid-write; its temporary file was left behind)" : "");
        state = next;
        cr_expect(!tu_exists(b), "%s: a killed run wrote its final model", when);
        /* A SIGKILLed writer cannot remove its temporary; clear it so the
         * next round's wait sees only new ones. */
        count_prefixed(dir, "ck.onnx.tmp.", true);
    }
    cr_expect_geq(mid_write, 1, "none of %d kills landed while a checkpoint was being written", kills);
    if (!finished) {
        const char *argv[] = {ONNXC_CLI, "train", model, "--x", x, "--y", y, "--epochs", CHAIN_EPOCHS,
                              "--checkpoint", ck, "-o", b, "--threads", "1",
                              state >= 0 ? "--resume" : NULL, ck, NULL};
        cli(0, argv);
    }
    expect_identical(a, b);
    onnxc_model_free(ref);
    free(model);
    free(x);
    free(y);
    free(a);
    free(b);
    free(ck);
    free(out);
    tu_rmtree(dir);
    free(dir);
}

/* A 1-epoch checkpoint of the small seed network, its bytes, and paths. */
typedef struct corrupt_fixture {
    char *dir, *model, *x, *y, *ck, *bad, *out;
    unsigned char *bytes;
    size_t size;
} corrupt_fixture;

static corrupt_fixture corrupt_setup(void)
{
    corrupt_fixture f;
    f.dir = tu_tmpdir("kill-corrupt");
    setup(f.dir, "784,64:relu,64:relu,10:softmax", 256);
    f.model = tu_path("%s/m.onnx", f.dir);
    f.x = tu_path("%s/x.npy", f.dir);
    f.y = tu_path("%s/y.npy", f.dir);
    f.ck = tu_path("%s/ck.onnx", f.dir);
    f.bad = tu_path("%s/bad.onnx", f.dir);
    f.out = tu_path("%s/out.onnx", f.dir);
    char *first = tu_path("%s/first.onnx", f.dir);
    cli(0, (const char *[]){ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "--checkpoint", f.ck, "-o", first,
                            NULL});
    free(first);
    void *data;
    cr_assert(tu_read_file(f.ck, &data, &f.size), "cannot read %s", f.ck);
    f.bytes = data;
    /* The intact checkpoint resumes (so a refusal below is the corruption's). */
    cli(0, (const char *[]){ONNXC_CLI, "train", f.model, "--x", f.x, "--y", f.y, "--epochs", "2", "--resume", f.ck,
                            "-o", f.out, NULL});
    unlink(f.out);
    return f;
}

static void corrupt_free(corrupt_fixture *f)
{
    tu_rmtree(f->dir);
    free(f->dir);
    free(f->model);
    free(f->x);
    free(f->y);
    free(f->ck);
    free(f->bad);
    free(f->out);
    free(f->bytes);
}

/* Write `size` bytes as bad.onnx, --resume from it: exit 2, a message that
 * names the file, no training, no output. */
static void expect_refused(const corrupt_fixture *f, const void *bytes, size_t size, const char *what)
{
    cr_assert(tu_write_file(f->bad, bytes, size));
    const char *argv[] = {ONNXC_CLI, "train", f->model, "--x", f->x, "--y", f->y, "--epochs", "2", "--resume",
                          f->bad, "-o", f->out, NULL};
    tu_proc p;
    tu_run(argv, 300, &p);
    cr_expect_eq(p.status, 2, "%s: --resume exited %d, expected 2\nstdout: %s\nstderr: %s", what, p.status, p.out,
                 p.err);
    cr_expect(!strncmp(p.err, "onnxc: error: ", 14) && strstr(p.err, f->bad), "%s: the message should name %s:\n%s",
              what, f->bad, p.err);
    cr_expect(!strstr(p.out, "Epoch "), "%s: training started anyway:\n%s", what, p.out);
    cr_expect(!tu_exists(f->out), "%s: an output model was written", what);
    cr_log_info("%s: %s", what, p.err);
    unlink(f->out);
    tu_proc_free(&p);
}

Test(kill_resume, truncated_or_mangled_checkpoint_is_refused, .timeout = 300)
{
    corrupt_fixture f = corrupt_setup();
    const size_t cuts[] = {0, 1, 16, f.size / 3, f.size / 2, f.size - 100, f.size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "checkpoint truncated to %zu of %zu bytes", cuts[i], f.size);
        expect_refused(&f, f.bytes, cuts[i], what);
    }
    /* Flips in the protobuf framing: the header, and the metadata at the end. */
    const size_t flips[] = {0, 1, 3, f.size - 30, f.size - 3};
    unsigned char *copy = malloc(f.size);
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        memcpy(copy, f.bytes, f.size);
        copy[flips[i]] ^= 0xFF;
        char what[64];
        snprintf(what, sizeof what, "checkpoint with byte %zu of %zu flipped", flips[i], f.size);
        expect_refused(&f, copy, f.size, what);
    }
    free(copy);
    corrupt_free(&f);
}

/* Offset in the checkpoint file of the middle of initializer `name`'s data. */
static size_t payload_offset(const corrupt_fixture *f, const char *name)
{
    onnxc_model *ck = load(f->ck);
    for (size_t i = 0; i < onnxc_model_initializer_count(ck); i++) {
        onnxc_tensor v;
        onnxc_model_initializer(ck, i, &v);
        if (strcmp(v.name, name)) continue;
        /* Up to 64 bytes from the middle of the tensor, found once in the file. */
        size_t window = v.capacity < 64 ? v.capacity : 64;
        const unsigned char *mid = (const unsigned char *)v.data + ((v.capacity - window) / 2 & ~(size_t)3);
        const unsigned char *at = memmem(f->bytes, f->size, mid, window);
        cr_assert_not_null(at, "%s: cannot find the bytes of '%s' in the file", f->ck, name);
        cr_assert_null(memmem(at + 1, f->size - (size_t)(at - f->bytes) - 1, mid, window),
                       "ambiguous match for '%s'", name);
        onnxc_model_free(ck);
        return (size_t)(at - f->bytes);
    }
    cr_assert_fail("%s: no tensor '%s'", f->ck, name);
    return 0;
}

/* A flipped bit inside the stored weights or optimizer state still parses
 * as a valid ONNX file; only a checksum can tell. A resumed run must not
 * silently continue from damaged state. */
Test(kill_resume, flipped_weight_bytes_are_refused, .timeout = 300)
{
    corrupt_fixture f = corrupt_setup();
    const char *const names[] = {"dense/kernel", "dense_2/bias", "onnxc.optimizer.m/dense_1/kernel",
                                 "onnxc.optimizer.v/dense/kernel"};
    unsigned char *copy = malloc(f.size);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t at = payload_offset(&f, names[i]);
        memcpy(copy, f.bytes, f.size);
        copy[at + 1] ^= 0x10; /* a mantissa bit of one float: still a finite number */
        char what[128];
        snprintf(what, sizeof what, "checkpoint with a bit flipped inside '%s' (byte %zu)", names[i], at + 1);
        expect_refused(&f, copy, f.size, what);
    }
    free(copy);
    corrupt_free(&f);
}
