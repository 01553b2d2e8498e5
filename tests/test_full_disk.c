/*
 * A full disk during a save (runtime/atomic_file.c, converter/writer.c,
 * runtime/train/checkpoint.c): RLIMIT_FSIZE in a forked child (write()
 * fails with EFBIG once SIGXFSZ is ignored) for a model, a model with
 * external data, a checkpoint and a tensor, and through `onnxc convert`:
 * ONNXC_ERR_IO (exit 2 in the CLI) with a message naming the file and the
 * reason, the old file byte-identical, no temporary left. Where this
 * process may mount (root, in a private mount namespace), the same on a
 * real 1 MiB tmpfs (ENOSPC). test_save_crash.c covers SIGKILL mid-save.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "onnxc.h"
#include "testutil.h"

#define SEED_SPEC "784,64:relu,64:relu,10:softmax"
#define BIG_SPEC "784,2048:relu,2048:relu,10:softmax" /* 5.8 M floats, 23 MB */

/* ---- helpers ------------------------------------------------------------------ */

static onnxc_model *spec(const char *s, uint64_t seed)
{
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec(s, seed, &m, &err), ONNXC_OK, "%s", err.message);
    return m;
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

typedef struct fsize_result {
    int status;                         /* onnxc_status of the save */
    char message[ONNXC_ERROR_MESSAGE_SIZE];
} fsize_result;

typedef onnxc_status (*save_fn)(void *ctx, const char *path, onnxc_error *err);

/* Runs save(ctx, path) in a child whose files may not grow past `limit`
 * bytes (RLIMIT_FSIZE: write() fails with EFBIG once SIGXFSZ is ignored). */
static fsize_result save_limited(save_fn save, void *ctx, const char *path, rlim_t limit)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {limit, limit};
        fsize_result r = {.status = -1};
        if (setrlimit(RLIMIT_FSIZE, &rl) == 0) {
            onnxc_error err = {0};
            r.status = (int)save(ctx, path, &err);
            memcpy(r.message, err.message, sizeof r.message);
        }
        ssize_t w = write(p[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(p[1]);
    fsize_result r = {.status = -2};
    ssize_t got = read(p[0], &r, sizeof r);
    close(p[0]);
    int ws;
    waitpid(pid, &ws, 0);
    cr_assert(got == (ssize_t)sizeof r && WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
              "the limited save did not report back (wait status %d)", ws);
    return r;
}

static onnxc_status save_inline(void *ctx, const char *path, onnxc_error *err)
{
    return onnxc_model_save(ctx, path, NULL, err);
}

static onnxc_status save_external(void *ctx, const char *path, onnxc_error *err)
{
    onnxc_save_options opt = {.external_data = 1, .external_threshold = 1024};
    return onnxc_model_save(ctx, path, &opt, err);
}

static onnxc_status save_checkpoint(void *ctx, const char *path, onnxc_error *err)
{
    oc_fit_state fs = {.epochs_done = 1, .batch_size = 8};
    return oc_checkpoint_save(ctx, path, &fs, err);
}

static onnxc_status save_tensor(void *ctx, const char *path, onnxc_error *err)
{
    return onnxc_tensor_save(path, ctx, err);
}

/* The save failed cleanly: ONNXC_ERR_IO, a message naming `named` and the
 * reason, and the folder exactly as before (`before` files, none new). */
static void expect_full_disk(const fsize_result *r, const char *what, const char *named, const char *reason,
                             const char *dir, size_t before)
{
    cr_expect_eq(r->status, ONNXC_ERR_IO, "%s: expected ONNXC_ERR_IO, got %d: %s", what, r->status, r->message);
    cr_expect(strstr(r->message, named), "%s: the message should name %s: %s", what, named, r->message);
    cr_expect(strstr(r->message, reason), "%s: the message should say '%s': %s", what, reason, r->message);
    cr_expect(strstr(r->message, "old file is kept"), "%s: the message should say the old file is kept: %s", what,
              r->message);
    cr_expect_eq(tu_count_files(dir), before, "%s: a temporary or partial file was left behind", what);
    cr_log_info("%s: %s", what, r->message);
}

Test(full_disk, file_size_limit_keeps_the_old_files, .timeout = 300)
{
    char *dir = tu_tmpdir("save-fsize");
    char *path = tu_path("%s/model.onnx", dir), *side = tu_path("%s/model.onnx.data", dir);
    onnxc_model *small = spec(SEED_SPEC, 1), *big = spec(BIG_SPEC, 2);
    onnxc_error err;

    /* Inline model: the old 220 kB file stays, the new 23 MB one cannot be written. */
    cr_assert_eq(onnxc_model_save(small, path, NULL, &err), ONNXC_OK, "%s", err.message);
    tu_blob old = tu_blob_read(path);
    fsize_result r = save_limited(save_inline, big, path, 1u << 20);
    expect_full_disk(&r, "model", path, "File too large", dir, 1);
    cr_expect(tu_blob_matches(&old, path), "model: the old file changed");
    free(old.data);

    /* External data: the side file is what overflows; the old pair stays. */
    unlink(path);
    onnxc_save_options opt = {.external_data = 1, .external_threshold = 1024};
    cr_assert_eq(onnxc_model_save(small, path, &opt, &err), ONNXC_OK, "%s", err.message);
    tu_blob old_model = tu_blob_read(path), old_side = tu_blob_read(side);
    r = save_limited(save_external, big, path, 1u << 20);
    char *new_side = tu_path("%s/model.onnx.alt.data", dir);
    expect_full_disk(&r, "external data", new_side, "File too large", dir, 2);
    cr_expect(tu_blob_matches(&old_model, path) && tu_blob_matches(&old_side, side), "external data: the old pair changed");
    onnxc_model *back = NULL;
    cr_expect_eq(onnxc_model_load(path, NULL, &back, &err), ONNXC_OK, "%s", err.message);
    onnxc_model_free(back);
    free(old_model.data);
    free(old_side.data);
    free(new_side);

    /* Checkpoint: 3 x 220 kB of weights and Adam slots under a 256 kB limit. */
    char *ck = tu_path("%s/ck.onnx", dir);
    onnxc_trainer *t = seed_trainer(small);
    train_step(t, 1);
    cr_assert_eq(save_checkpoint(t, ck, &err), ONNXC_OK, "%s", err.message);
    tu_blob old_ck = tu_blob_read(ck);
    train_step(t, 2);
    r = save_limited(save_checkpoint, t, ck, 256u << 10);
    expect_full_disk(&r, "checkpoint", ck, "File too large", dir, 3);
    cr_expect(tu_blob_matches(&old_ck, ck), "checkpoint: the old file changed");
    free(old_ck.data);
    onnxc_trainer_free(t);

    /* A tensor file. */
    char *npy = tu_path("%s/x.npy", dir);
    static float x[1 << 16];
    onnxc_tensor tx = {.dtype = ONNXC_FLOAT, .rank = 1, .dims = {1 << 10}, .data = x};
    cr_assert_eq(onnxc_tensor_save(npy, &tx, &err), ONNXC_OK, "%s", err.message);
    tu_blob old_npy = tu_blob_read(npy);
    tx.dims[0] = 1 << 16;
    r = save_limited(save_tensor, &tx, npy, 64u << 10);
    cr_expect_eq(r.status, ONNXC_ERR_IO, "tensor: %s", r.message);
    cr_expect(strstr(r.message, npy), "tensor: %s", r.message);
    cr_expect_eq(tu_count_files(dir), 4, "tensor: a temporary was left behind");
    cr_expect(tu_blob_matches(&old_npy, npy), "tensor: the old file changed");
    free(old_npy.data);

    onnxc_model_free(small);
    onnxc_model_free(big);
    free(npy);
    free(ck);
    free(side);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* The CLI reports it as bad input (exit 2) with one "onnxc: error:" line. */
Test(full_disk, file_size_limit_through_the_cli, .timeout = 300)
{
    char *dir = tu_tmpdir("save-fsize-cli");
    char *in = tu_path("%s/big.onnx", dir), *out = tu_path("%s/out.onnx", dir);
    onnxc_model *big = spec(BIG_SPEC, 2), *small = spec(SEED_SPEC, 1);
    onnxc_error err;
    cr_assert_eq(onnxc_model_save(big, in, NULL, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(onnxc_model_save(small, out, NULL, &err), ONNXC_OK, "%s", err.message);
    tu_blob old = tu_blob_read(out);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* SIG_IGN survives exec; the limit is inherited. */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {1u << 20, 1u << 20};
        setrlimit(RLIMIT_FSIZE, &rl);
        dup2(p[1], 2);
        close(p[0]);
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        execl(ONNXC_CLI, ONNXC_CLI, "convert", in, "-o", out, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char msg[4096] = "";
    size_t used = 0;
    ssize_t n;
    while (used + 1 < sizeof msg && (n = read(p[0], msg + used, sizeof msg - 1 - used)) > 0) used += (size_t)n;
    msg[used] = '\0';
    close(p[0]);
    int ws;
    waitpid(pid, &ws, 0);
    cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 2, "onnxc convert under a 1 MiB file-size limit: wait status %d: %s",
              ws, msg);
    cr_expect(!strncmp(msg, "onnxc: error: ", 14) && strstr(msg, out) && strstr(msg, "File too large"),
              "expected one error line naming %s: %s", out, msg);
    cr_expect(tu_blob_matches(&old, out), "the old output file changed");
    cr_expect_eq(tu_count_files(dir), 2, "a temporary was left behind");
    free(old.data);
    onnxc_model_free(big);
    onnxc_model_free(small);
    free(in);
    free(out);
    tu_rmtree(dir);
    free(dir);
}

/*
 * A real full file system: a 1 MiB tmpfs mounted in a private mount
 * namespace of a child (it vanishes with the child). Needs root or
 * CAP_SYS_ADMIN; skipped where mounting is not allowed. Exit codes of the
 * child: 0 pass, 77 cannot mount, 10+ which check failed.
 */
static int tmpfs_child(const char *mnt)
{
    if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0)
        return 77;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.onnx", mnt);
    onnxc_model *small = NULL, *big = NULL;
    onnxc_error err;
    if (onnxc_model_from_spec(SEED_SPEC, 1, &small, &err) != ONNXC_OK ||
        onnxc_model_from_spec("784,512:relu,10:softmax", 2, &big, &err) != ONNXC_OK)
        return 10;
    if (onnxc_model_save(small, path, NULL, &err) != ONNXC_OK) return 11;
    void *old;
    size_t old_size;
    if (!tu_read_file(path, &old, &old_size)) return 12;
    /* 1.6 MB does not fit beside the 220 kB old file. */
    onnxc_status st = onnxc_model_save(big, path, NULL, &err);
    fprintf(stderr, "tmpfs: %s\n", err.message);
    if (st != ONNXC_ERR_IO) return 13;
    if (!strstr(err.message, path) || !strstr(err.message, "No space left on device")) return 14;
    void *now;
    size_t now_size;
    if (!tu_read_file(path, &now, &now_size) || now_size != old_size || memcmp(now, old, old_size)) return 15;
    size_t n;
    char **files = tu_list(mnt, "", &n);
    tu_list_free(files, n);
    if (n != 1) return 16;
    /* Nothing of the failed save is left taking space: another small
     * model still fits beside the old one's replacement. */
    onnxc_model_free(small);
    if (onnxc_model_from_spec(SEED_SPEC, 3, &small, &err) != ONNXC_OK) return 10;
    if (onnxc_model_save(small, path, NULL, &err) != ONNXC_OK) return 17;
    free(old);
    free(now);
    onnxc_model_free(small);
    onnxc_model_free(big);
    return 0;
}

Test(full_disk, full_tmpfs_keeps_the_old_file, .timeout = 120)
{
    char *dir = tu_tmpdir("save-tmpfs");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) _exit(tmpfs_child(dir));
    int ws;
    waitpid(pid, &ws, 0);
    tu_rmtree(dir);
    free(dir);
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 77) cr_skip_test("cannot mount a tmpfs here (needs CAP_SYS_ADMIN)");
    cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "full tmpfs: check %d failed (wait status %d)",
              WIFEXITED(ws) ? WEXITSTATUS(ws) : -1, ws);
}
