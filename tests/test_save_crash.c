/*
 * Crash-safe saves (runtime/atomic_file.c, converter/writer.c,
 * runtime/train/checkpoint.c):
 *
 *   - SIGKILL at random moments: a forked child saves the new version of a
 *     file over the old one and is killed after a random delay spread over
 *     the save's measured duration (seeded PRNG), 50 times (25 in sanitizer
 *     builds) for each of: the seed model (784-64-64-10, ~220 kB), a 23 MB
 *     model, a training checkpoint, and a 23 MB model saved with external
 *     data (model + side file). After every kill the target is
 *     byte-identical to the complete old or the complete new version and
 *     loads (the external-data pair loads with all-old or all-new weights,
 *     never a mix). For the two 23 MB files, kills aimed at the write
 *     itself (the child killed as soon as a temporary appears) make sure one
 *     lands there whatever the machine's load did to the random delays.
 *   - stale temporaries: a killed writer leaves "<file>.tmp.XXXXXX" behind;
 *     the next save of the same file removes the ones no live writer holds
 *     locked, and leaves a locked one (a writer still running) and names
 *     that only look similar alone.
 *
 * A full disk during a save is test_full_disk.c.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "onnxc.h"
#include "testutil.h"

#define SEED_SPEC "784,64:relu,64:relu,10:softmax"
#define BIG_SPEC "784,2048:relu,2048:relu,10:softmax" /* 5.8 M floats, 23 MB */
/* Kills per file. Sanitizer builds do fewer: their saves are ~3x slower and
 * the release build already runs all 50; what ASan adds here (memory errors
 * on the save path) does not need every kill. */
#ifdef TU_SANITIZED
#define KILLS 25
#else
#define KILLS 50
#endif

/* ---- small helpers --------------------------------------------------------- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sleep_s(double s)
{
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {}
}

static onnxc_model *spec(const char *s, uint64_t seed)
{
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec(s, seed, &m, &err), ONNXC_OK, "%s", err.message);
    return m;
}

/* Puts `b` at `path` completely (own temporary name, then rename), the way
 * an earlier successful save would have left it. */
static void put_blob(const char *path, const tu_blob *b)
{
    char *tmp = tu_path("%s.restore", path);
    cr_assert(tu_write_file(tmp, b->data, b->size));
    cr_assert_eq(rename(tmp, path), 0, "rename %s: %s", tmp, strerror(errno));
    free(tmp);
}

/* Temporaries in `dir`: names with ".tmp." in them, of the file under test
 * or of its side file (an external-data save writes both). */
static size_t count_temporaries(const char *dir)
{
    size_t n = 0, count = 0;
    char **files = tu_list(dir, "", &n);
    for (size_t i = 0; i < n; i++) count += strstr(strrchr(files[i], '/') + 1, ".tmp.") != NULL;
    tu_list_free(files, n);
    return count;
}

/* Files in `dir` whose names start with `prefix`. */
static size_t count_prefixed(const char *dir, const char *prefix)
{
    size_t n = 0, count = 0;
    char **files = tu_list(dir, "", &n);
    for (size_t i = 0; i < n; i++)
        count += strncmp(strrchr(files[i], '/') + 1, prefix, strlen(prefix)) == 0;
    tu_list_free(files, n);
    return count;
}

/* Bytes of every initializer, concatenated: the weights, for comparing the
 * model an external-data pair loads to against the old and new models. */
static tu_blob weights_of(const onnxc_model *m)
{
    tu_blob b = {0};
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor v;
        cr_assert_eq(onnxc_model_initializer(m, i, &v), ONNXC_OK);
        b.data = realloc(b.data, b.size + v.capacity);
        cr_assert_not_null(b.data);
        memcpy((char *)b.data + b.size, v.data, v.capacity);
        b.size += v.capacity;
    }
    return b;
}

/* ---- the kill loop ----------------------------------------------------------- */

typedef struct kill_job {
    const char *what;
    const char *dir, *target;           /* the file under test and its folder */
    void (*reset)(struct kill_job *);   /* parent: put the complete old version in place */
    void (*save)(struct kill_job *);    /* child: save the new version over it */
    /* parent, after a kill: 0 old, 1 new, -1 neither (with the reason) */
    int (*judge)(struct kill_job *, char *why, size_t why_size);
    void *ctx;
} kill_job;

static pid_t start_save(kill_job *job)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        job->save(job);
        _exit(0);
    }
    return pid;
}

/* Seconds a whole save takes in a child (fork to exit), the slowest of 3. */
static double save_duration(kill_job *job)
{
    double worst = 0;
    for (int i = 0; i < 3; i++) {
        job->reset(job);
        double t0 = now_s();
        pid_t pid = start_save(job);
        int ws;
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s: the undisturbed save failed (%d)", job->what, ws);
        double took = now_s() - t0;
        if (took > worst) worst = took;
        char why[256];
        cr_assert_eq(job->judge(job, why, sizeof why), 1, "%s: an undisturbed save did not leave the new version: %s",
                     job->what, why);
    }
    return worst;
}

/* One kill: the old version in place, a child saving the new one, SIGKILL
 * after `delay` seconds. Returns the judge's verdict (0 old, 1 new, -1
 * neither, reported) and sets *mid_write when a temporary outlived the kill. */
static int kill_once(kill_job *job, double delay, double dur, int i, bool *mid_write)
{
    job->reset(job);
    pid_t pid = start_save(job);
    sleep_s(delay);
    kill(pid, SIGKILL);
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    *mid_write = count_temporaries(job->dir) > 0;
    char why[512] = "";
    int v = job->judge(job, why, sizeof why);
    if (v < 0)
        cr_expect(false, "%s: kill %d after %.1f ms of a %.1f ms save: %s", job->what, i, delay * 1e3, dur * 1e3, why);
    return v;
}

/* One kill aimed at the write itself: the child is killed as soon as a
 * temporary shows up in the folder (polled every 50 us). Returns whether
 * the temporary was still there after the kill, i.e. the kill landed
 * before the rename; the verdict goes to `seen` / `broken`. */
static bool kill_when_writing(kill_job *job, int seen[2], int *broken)
{
    job->reset(job);
    pid_t pid = start_save(job);
    int ws = 0;
    pid_t done = 0;
    while (count_temporaries(job->dir) == 0 && (done = waitpid(pid, &ws, WNOHANG)) == 0) sleep_s(50e-6);
    if (done == 0) {
        kill(pid, SIGKILL);
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
    }
    bool landed = count_temporaries(job->dir) > 0;
    char why[512] = "";
    int v = job->judge(job, why, sizeof why);
    if (v < 0) {
        (*broken)++;
        cr_expect(false, "%s: killed while a temporary existed: %s", job->what, why);
    } else {
        seen[v]++;
    }
    return landed;
}

static void kill_loop(kill_job *job, uint64_t seed, bool expect_mid_write)
{
    double dur = save_duration(job);
    tu_rng r = {seed};
    int seen[2] = {0, 0}, mid_write = 0, broken = 0, kills = 0;
    /* Random delays over the whole save. On a loaded machine a save can take
     * longer than it did when timed, so while one outcome is still missing
     * the loop goes on (re-timing the save) up to twice as many kills. */
    while (kills < KILLS || ((seen[0] == 0 || seen[1] == 0) && kills < 2 * KILLS)) {
        if (kills == KILLS) dur = save_duration(job);
        double delay = tu_rng_uniform(&r, 0, 1.25 * dur);
        bool mid = false;
        int v = kill_once(job, delay, dur, kills++, &mid);
        mid_write += mid;
        if (v < 0) broken++;
        else seen[v]++;
    }
    /* Kills aimed at the write, so that one is sure to land there however
     * the machine's speed moved the random ones. */
    int aimed = 0, aimed_landed = 0;
    for (; expect_mid_write && aimed < 10 && aimed_landed == 0; aimed++)
        aimed_landed += kill_when_writing(job, seen, &broken);
    mid_write += aimed_landed;
    cr_log_info("%s: save takes %.1f ms; %d random + %d aimed kills: %d left the old version, %d the new one, "
                "%d a mix; %d landed while a temporary existed",
                job->what, dur * 1e3, kills, aimed, seen[0], seen[1], broken, mid_write);
    cr_expect_eq(broken, 0, "%s: %d kills left neither the old nor the new version", job->what, broken);
    /* The delays span the whole save, so both outcomes must occur. */
    cr_expect_gt(seen[0], 0, "%s: no kill landed before the rename", job->what);
    cr_expect_gt(seen[1], 0, "%s: no kill landed after the rename", job->what);
    if (expect_mid_write) cr_expect_gt(mid_write, 0, "%s: no kill landed in the middle of the write", job->what);
    /* A complete save afterwards removes every stale temporary (the reset
     * of some jobs puts the old file in place without saving, so this is
     * a save of its own). */
    job->reset(job);
    pid_t pid = start_save(job);
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s: the final save failed (%d)", job->what, ws);
    cr_expect_eq(count_temporaries(job->dir), 0, "%s: stale temporaries survive the next save", job->what);
    char why[256] = "";
    cr_expect_eq(job->judge(job, why, sizeof why), 1, "%s: the final save did not leave the new version: %s",
                 job->what, why);
}

/* ---- inline models ------------------------------------------------------------ */

typedef struct model_ctx {
    onnxc_model *old_m, *new_m;
    tu_blob old_bytes, new_bytes;
} model_ctx;

static void model_reset(kill_job *job)
{
    model_ctx *c = job->ctx;
    onnxc_error err;
    cr_assert_eq(onnxc_model_save(c->old_m, job->target, NULL, &err), ONNXC_OK, "%s", err.message);
}

static void model_save(kill_job *job)
{
    model_ctx *c = job->ctx;
    onnxc_error err;
    if (onnxc_model_save(c->new_m, job->target, NULL, &err) != ONNXC_OK) _exit(3);
}

static int model_judge(kill_job *job, char *why, size_t why_size)
{
    model_ctx *c = job->ctx;
    int v = tu_blob_matches(&c->old_bytes, job->target) ? 0 : tu_blob_matches(&c->new_bytes, job->target) ? 1 : -1;
    if (v < 0) {
        snprintf(why, why_size, "%s holds %lld bytes, neither the old (%zu) nor the new (%zu) file", job->target,
                 (long long)tu_file_size(job->target), c->old_bytes.size, c->new_bytes.size);
        return -1;
    }
    onnxc_model *m = NULL;
    onnxc_error err;
    if (onnxc_model_load(job->target, NULL, &m, &err) != ONNXC_OK) {
        snprintf(why, why_size, "%s does not load: %s", job->target, err.message);
        v = -1;
    }
    onnxc_model_free(m);
    return v;
}

static void model_kills(const char *what, const char *spec_s, uint64_t seed)
{
    char *dir = tu_tmpdir("save-crash");
    char *ref = tu_path("%s/ref.onnx", dir);
    char *sub = tu_path("%s/t", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    model_ctx c = {spec(spec_s, 1), spec(spec_s, 2), {0}, {0}};
    onnxc_error err;
    cr_assert_eq(onnxc_model_save(c.old_m, ref, NULL, &err), ONNXC_OK, "%s", err.message);
    c.old_bytes = tu_blob_read(ref);
    cr_assert_eq(onnxc_model_save(c.new_m, ref, NULL, &err), ONNXC_OK, "%s", err.message);
    c.new_bytes = tu_blob_read(ref);
    cr_assert(c.old_bytes.size != c.new_bytes.size || memcmp(c.old_bytes.data, c.new_bytes.data, c.old_bytes.size));
    char *target = tu_path("%s/model.onnx", sub);
    kill_job job = {what, sub, target, model_reset, model_save, model_judge, &c};
    kill_loop(&job, seed, c.new_bytes.size > (1u << 20));
    cr_expect_eq(tu_count_files(sub), 1, "%s: files other than the model are left in its folder", what);
    onnxc_model_free(c.old_m);
    onnxc_model_free(c.new_m);
    free(c.old_bytes.data);
    free(c.new_bytes.data);
    free(target);
    free(ref);
    free(sub);
    tu_rmtree(dir);
    free(dir);
}

Test(save_crash, sigkill_during_seed_model_save, .timeout = 600)
{
    model_kills("seed model", SEED_SPEC, 101);
}

Test(save_crash, sigkill_during_23mb_model_save, .timeout = 900)
{
    model_kills("23 MB model", BIG_SPEC, 202);
}

/* ---- external data: the model and its side file as a pair -------------------- */

typedef struct ext_ctx {
    onnxc_model *old_m, *new_m;
    tu_blob old_w, new_w;                  /* weights_of each */
    onnxc_save_options opt;
} ext_ctx;

static void ext_reset(kill_job *job)
{
    ext_ctx *c = job->ctx;
    onnxc_error err;
    cr_assert_eq(onnxc_model_save(c->old_m, job->target, &c->opt, &err), ONNXC_OK, "%s", err.message);
}

static void ext_save(kill_job *job)
{
    ext_ctx *c = job->ctx;
    onnxc_error err;
    if (onnxc_model_save(c->new_m, job->target, &c->opt, &err) != ONNXC_OK) _exit(3);
}

static int ext_judge(kill_job *job, char *why, size_t why_size)
{
    ext_ctx *c = job->ctx;
    onnxc_model *m = NULL;
    onnxc_error err;
    if (onnxc_model_load(job->target, NULL, &m, &err) != ONNXC_OK) {
        snprintf(why, why_size, "the pair does not load: %s", err.message);
        return -1;
    }
    tu_blob w = weights_of(m);
    int v = w.size == c->old_w.size && !memcmp(w.data, c->old_w.data, w.size)   ? 0
            : w.size == c->new_w.size && !memcmp(w.data, c->new_w.data, w.size) ? 1
                                                                                : -1;
    if (v < 0) snprintf(why, why_size, "the pair loads with weights that are neither all old nor all new");
    free(w.data);
    onnxc_model_free(m);
    return v;
}

Test(save_crash, sigkill_during_external_data_save, .timeout = 900)
{
    char *dir = tu_tmpdir("save-crash-ext");
    ext_ctx c = {spec(BIG_SPEC, 1), spec(BIG_SPEC, 2), {0}, {0}, {.external_data = 1, .external_threshold = 1024}};
    c.old_w = weights_of(c.old_m);
    c.new_w = weights_of(c.new_m);
    char *target = tu_path("%s/model.onnx", dir);
    kill_job job = {"23 MB model with external data", dir, target, ext_reset, ext_save, ext_judge, &c};
    kill_loop(&job, 303, true);
    /* A side file for each save (the model and its data alternate between
     * two names), never a temporary: after the last save only the pair. */
    cr_expect_eq(tu_count_files(dir), 2, "expected model.onnx and one side file after a complete save");
    cr_expect_eq(count_prefixed(dir, "model.onnx.data.tmp.") + count_prefixed(dir, "model.onnx.alt.data.tmp."), 0);
    onnxc_model_free(c.old_m);
    onnxc_model_free(c.new_m);
    free(c.old_w.data);
    free(c.new_w.data);
    free(target);
    tu_rmtree(dir);
    free(dir);
}

/* Interrupted between the side file's rename and the model's: both names
 * exist, the old model reads one of them. The next save must write the
 * other (not the one the model on disk reads) and clean up after itself. */
Test(save_crash, external_data_after_interrupted_save)
{
    char *dir = tu_tmpdir("save-crash-ext2");
    char *target = tu_path("%s/model.onnx", dir);
    onnxc_save_options opt = {.external_data = 1, .external_threshold = 16};
    onnxc_model *a = spec(SEED_SPEC, 1), *b = spec(SEED_SPEC, 2);
    onnxc_error err;
    cr_assert_eq(onnxc_model_save(a, target, &opt, &err), ONNXC_OK, "%s", err.message);
    char *s = tu_path("%s/model.onnx.data", dir), *alt = tu_path("%s/model.onnx.alt.data", dir);
    cr_assert(tu_exists(s) && !tu_exists(alt), "the first save writes model.onnx.data");
    /* A leftover under the other name, as a killed save would leave it. */
    tu_blob junk = {"not the weights", 15};
    put_blob(alt, &junk);
    /* This save must not touch model.onnx.data, which the model on disk
     * reads, before its own model is in place. */
    cr_assert_eq(onnxc_model_save(b, target, &opt, &err), ONNXC_OK, "%s", err.message);
    cr_expect(!tu_exists(s), "the old side file should be removed once the new model is in place");
    cr_expect(tu_exists(alt), "the new side file should take the free name");
    onnxc_model *back = NULL;
    cr_assert_eq(onnxc_model_load(target, NULL, &back, &err), ONNXC_OK, "%s", err.message);
    tu_blob wb = weights_of(b), wback = weights_of(back);
    cr_expect(wb.size == wback.size && !memcmp(wb.data, wback.data, wb.size), "the new pair holds other weights");
    /* Now the reverse: the old model reads .alt.data, a stale .data exists. */
    put_blob(s, &junk);
    cr_assert_eq(onnxc_model_save(a, target, &opt, &err), ONNXC_OK, "%s", err.message);
    cr_expect(tu_exists(s) && !tu_exists(alt));
    /* And a stale leftover while the model reads the same name as before:
     * both exist, the byte search finds which one the model uses. */
    put_blob(alt, &junk);
    cr_assert(tu_blob_matches(&junk, alt));
    cr_assert_eq(onnxc_model_save(b, target, &opt, &err), ONNXC_OK, "%s", err.message);
    cr_expect(tu_exists(alt) && !tu_exists(s), "expected the save to replace the unused leftover");
    cr_expect_eq(tu_count_files(dir), 2);
    /* The side file may not be named like the model itself. */
    onnxc_save_options same = {.external_data = 1, .external_threshold = 16, .external_file = "model.onnx"};
    cr_expect_eq(onnxc_model_save(a, target, &same, &err), ONNXC_ERR_ARGUMENT);
    cr_expect(strstr(err.message, "model.onnx"), "%s", err.message);
    onnxc_model_free(back);
    onnxc_model_free(a);
    onnxc_model_free(b);
    free(wb.data);
    free(wback.data);
    free(s);
    free(alt);
    free(target);
    tu_rmtree(dir);
    free(dir);
}

/* ---- checkpoints ------------------------------------------------------------------ */

typedef struct ck_ctx {
    onnxc_trainer *t;                  /* holds the new state */
    onnxc_trainer *verify;             /* a second trainer to load checkpoints into */
    tu_blob old_bytes, new_bytes;
    oc_fit_state fs;
} ck_ctx;

static void ck_reset(kill_job *job)
{
    ck_ctx *c = job->ctx;
    put_blob(job->target, &c->old_bytes);
}

static void ck_save(kill_job *job)
{
    ck_ctx *c = job->ctx;
    onnxc_error err;
    if (oc_checkpoint_save(c->t, job->target, &c->fs, &err) != ONNXC_OK) _exit(3);
}

static int ck_judge(kill_job *job, char *why, size_t why_size)
{
    ck_ctx *c = job->ctx;
    int v = tu_blob_matches(&c->old_bytes, job->target) ? 0 : tu_blob_matches(&c->new_bytes, job->target) ? 1 : -1;
    if (v < 0) {
        snprintf(why, why_size, "%s holds %lld bytes, neither the old (%zu) nor the new (%zu) checkpoint",
                 job->target, (long long)tu_file_size(job->target), c->old_bytes.size, c->new_bytes.size);
        return -1;
    }
    oc_fit_state fs = {0};
    onnxc_error err;
    if (oc_checkpoint_load(c->verify, job->target, &fs, &err) != ONNXC_OK) {
        snprintf(why, why_size, "%s does not resume: %s", job->target, err.message);
        return -1;
    }
    return v;
}

static onnxc_trainer *seed_trainer(onnxc_model *m)
{
    onnxc_trainer_options o;
    onnxc_trainer_options_default(&o);
    o.threads = 1;
    onnxc_trainer *t;
    onnxc_error err;
    cr_assert_eq(onnxc_trainer_create(m, &o, &t, &err), ONNXC_OK, "%s", err.message);
    return t;
}

static void train_step(onnxc_trainer *t, uint64_t seed)
{
    enum { B = 8 };
    float x[B * 784];
    int64_t y[B];
    tu_rng r = {seed};
    for (size_t i = 0; i < B * 784; i++) x[i] = (float)tu_rng_uniform(&r, 0, 1);
    for (size_t i = 0; i < B; i++) y[i] = (int64_t)(tu_rng_next(&r) % 10);
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {B, 784}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {B}, .data = y};
    onnxc_error err;
    cr_assert_eq(onnxc_trainer_step(t, &xt, &yt, NULL, &err), ONNXC_OK, "%s", err.message);
}

Test(save_crash, sigkill_during_checkpoint_save, .timeout = 600)
{
    char *dir = tu_tmpdir("save-crash-ck");
    char *target = tu_path("%s/ck.onnx", dir), *ref = tu_path("%s/ref.onnx", dir);
    onnxc_model *m = spec(SEED_SPEC, 1), *m2 = spec(SEED_SPEC, 1);
    ck_ctx c = {seed_trainer(m), seed_trainer(m2), {0}, {0}, {.epochs_done = 1, .batch_size = 8}};
    onnxc_error err;
    train_step(c.t, 1);
    cr_assert_eq(oc_checkpoint_save(c.t, ref, &c.fs, &err), ONNXC_OK, "%s", err.message);
    c.old_bytes = tu_blob_read(ref);
    train_step(c.t, 2);
    c.fs.epochs_done = 2;
    cr_assert_eq(oc_checkpoint_save(c.t, ref, &c.fs, &err), ONNXC_OK, "%s", err.message);
    c.new_bytes = tu_blob_read(ref);
    unlink(ref);
    kill_job job = {"checkpoint", dir, target, ck_reset, ck_save, ck_judge, &c};
    kill_loop(&job, 404, false);
    onnxc_trainer_free(c.t);
    onnxc_trainer_free(c.verify);
    onnxc_model_free(m);
    onnxc_model_free(m2);
    free(c.old_bytes.data);
    free(c.new_bytes.data);
    free(target);
    free(ref);
    tu_rmtree(dir);
    free(dir);
}

/* ---- stale temporaries ---------------------------------------------------------- */

Test(save_crash, stale_temporaries_are_removed_unless_locked)
{
    char *dir = tu_tmpdir("save-crash-stale");
    char *target = tu_path("%s/m.onnx", dir);
    char *stale1 = tu_path("%s/m.onnx.tmp.aB3xY9", dir), *stale2 = tu_path("%s/m.onnx.tmp.000000", dir);
    char *locked = tu_path("%s/m.onnx.tmp.LoCkEd", dir);
    char *lookalike1 = tu_path("%s/m.onnx.tmp.toolong7", dir), *lookalike2 = tu_path("%s/m.onnx.tmp.ab-cd1", dir);
    char *other = tu_path("%s/n.onnx.tmp.aB3xY9", dir);
    const char *const all[] = {stale1, stale2, locked, lookalike1, lookalike2, other};
    for (size_t i = 0; i < 6; i++) cr_assert(tu_write_file(all[i], "partial", 7));
    /* A writer that is still running holds its temporary locked. */
    int fd = open(locked, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(flock(fd, LOCK_EX), 0);
    onnxc_model *m = spec("4,2:softmax", 1);
    onnxc_error err;
    cr_assert_eq(onnxc_model_save(m, target, NULL, &err), ONNXC_OK, "%s", err.message);
    cr_expect(!tu_exists(stale1) && !tu_exists(stale2), "unlocked temporaries of m.onnx should be removed");
    cr_expect(tu_exists(locked), "a locked temporary belongs to a live writer and must stay");
    cr_expect(tu_exists(lookalike1) && tu_exists(lookalike2), "names outside the pattern must stay");
    cr_expect(tu_exists(other), "temporaries of another file must stay");
    close(fd);
    /* Once its writer is gone, the next save takes it away. */
    cr_assert_eq(onnxc_model_save(m, target, NULL, &err), ONNXC_OK, "%s", err.message);
    cr_expect(!tu_exists(locked));
    onnxc_model_free(m);
    free(target);
    free(stale1);
    free(stale2);
    free(locked);
    free(lookalike1);
    free(lookalike2);
    free(other);
    tu_rmtree(dir);
    free(dir);
}
