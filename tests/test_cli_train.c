/*
 * The training subcommands end to end, through the onnxc executable:
 * `init` writes the network its spec describes (checked with `onnxc info`),
 * `train` learns a separable problem from .npy files and from an idx
 * folder, logs one JSON object per epoch (parsed here with json-c, not with
 * the code that wrote it), shows Keras-style progress (in place on a
 * terminal, final lines only in a pipe) and writes checkpoints that
 * `onnxc check` accepts; `eval` prints a confusion matrix that agrees with
 * its own accuracy and with the sample count. Every bad argument is exit 1
 * with one line on stderr; unusable data is exit 2.
 *
 * The data are drawn by numpy (/usr/bin/python3): two Gaussian clusters
 * with means +-(1, 1, -1, 0.5) and sd 0.5, 3.6 sd apart along the line
 * joining them, so a linear model separates all but ~0.02% of the samples.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifndef ONNXC_TEST_PYTHON
#define ONNXC_TEST_PYTHON "/usr/bin/python3"
#endif

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* Run the CLI with the given arguments (NULL-terminated by the macro). */
#define CLI(p, ...) run_cli((const char *[]){ONNXC_CLI, __VA_ARGS__, NULL}, (p))

static bool run_cli(const char *const *argv, tu_proc *p)
{
    return tu_run(argv, 600, p);
}

/* Fail with the command line, exit code and both streams. */
#define EXPECT_EXIT(p, code, ...)                                                                   \
    do {                                                                                            \
        const char *argv_[] = {ONNXC_CLI, __VA_ARGS__, NULL};                                       \
        run_cli(argv_, (p));                                                                        \
        char *cmd_ = tu_argv_str(argv_);                                                            \
        cr_assert_eq((p)->status, (code), "`%s` exited %d, expected %d\nstdout: %s\nstderr: %s", cmd_, \
                     (p)->status, (code), (p)->out, (p)->err);                                      \
        free(cmd_);                                                                                 \
    } while (0)

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++) n += *s == c;
    return n;
}

static size_t count_str(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *at = strstr(s, needle); at; at = strstr(at + 1, needle)) n++;
    return n;
}

static void python(const char *script, const char *arg1, const char *arg2)
{
    tu_proc p;
    tu_run((const char *[]){ONNXC_TEST_PYTHON, "-c", script, arg1, arg2, NULL}, 120, &p);
    cr_assert_eq(p.status, 0, "python failed (%d): %s", p.status, p.err);
    tu_proc_free(&p);
}

/* x.npy float32 [n, 4] and y.npy int64 [n] in `dir`. */
static void make_npy(const char *dir, const char *n_and_seed)
{
    static const char script[] =
        "import sys, numpy as np\n"
        "d = sys.argv[1]; n, seed = map(int, sys.argv[2].split(','))\n"
        "rng = np.random.default_rng(seed)\n"
        "y = rng.integers(0, 2, n)\n"
        "x = rng.normal(0, 0.5, (n, 4)) + np.where(y[:, None] == 1, 1.0, -1.0) * np.array([1, 1, -1, 0.5])\n"
        "np.save(d + '/x.npy', x.astype(np.float32)); np.save(d + '/y.npy', y.astype(np.int64))\n";
    python(script, dir, n_and_seed);
}

/* The same problem as MNIST-style idx files: 2x2 uint8 "images" (pixel =
 * 128 + 50 x, clipped), 200 train samples and, when asked, 100 t10k ones. */
static void make_idx(const char *dir, bool with_t10k)
{
    static const char script[] =
        "import sys, struct, numpy as np\n"
        "d, t10k = sys.argv[1], sys.argv[2] == '1'\n"
        "rng = np.random.default_rng(7)\n"
        "def split(name, n):\n"
        "    y = rng.integers(0, 2, n)\n"
        "    x = rng.normal(0, 0.5, (n, 4)) + np.where(y[:, None] == 1, 1.0, -1.0) * np.array([1, 1, -1, 0.5])\n"
        "    img = np.clip(np.round(128 + 50 * x), 0, 255).astype(np.uint8)\n"
        "    open(f'{d}/{name}-images-idx3-ubyte', 'wb').write(struct.pack('>IIII', 0x803, n, 2, 2) + img.tobytes())\n"
        "    open(f'{d}/{name}-labels-idx1-ubyte', 'wb').write(struct.pack('>II', 0x801, n) + y.astype(np.uint8).tobytes())\n"
        "split('train', 200)\n"
        "if t10k: split('t10k', 100)\n";
    python(script, dir, with_t10k ? "1" : "0");
}

/* A fresh 4,8:relu,2:softmax network at `path`. */
static void make_model(const char *path)
{
    tu_proc p;
    EXPECT_EXIT(&p, 0, "init", "4,8:relu,2:softmax", "-o", path, "--seed", "5");
    tu_proc_free(&p);
}

/*
 * Parse a JSONL log: exactly `epochs` lines, epoch k on line k (numbered
 * from first_epoch), each with the finite numbers Keras's History has, val_*
 * exactly when `validation`.
 */
typedef struct log_summary {
    double first_loss, last_loss, last_accuracy;
} log_summary;

static log_summary check_log(const char *path, int first_epoch, int epochs, bool validation)
{
    void *data;
    size_t size;
    cr_assert(tu_read_file(path, &data, &size), "cannot read %s", path);
    char *text = data;
    cr_assert_eq(count_char(text, '\n'), (size_t)epochs, "%s: expected %d lines:\n%s", path, epochs, text);
    log_summary sum = {-1, -1, -1};
    char *save = NULL;
    int line_no = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), line_no++) {
        json_object *o = json_tokener_parse(line);
        cr_assert_not_null(o, "%s line %d is not JSON: %s", path, line_no + 1, line);
        cr_assert(json_object_is_type(o, json_type_object), "%s line %d: not an object", path, line_no + 1);
        json_object *v;
        cr_assert(json_object_object_get_ex(o, "epoch", &v) && json_object_is_type(v, json_type_int),
                  "%s line %d: no integer epoch: %s", path, line_no + 1, line);
        cr_expect_eq(json_object_get_int(v), first_epoch + line_no, "%s line %d: %s", path, line_no + 1, line);
        static const char *const keys[] = {"loss",         "accuracy",         "seconds", "samples_per_second",
                                           "data_seconds", "one_thread_steps", "val_loss", "val_accuracy"};
        size_t n_keys = validation ? 8 : 6;
        cr_expect_eq((size_t)json_object_object_length(o), n_keys + 1, "%s line %d: unexpected keys: %s", path,
                     line_no + 1, line);
        for (size_t k = 0; k < n_keys; k++) {
            bool has = json_object_object_get_ex(o, keys[k], &v);
            cr_assert(has && (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)),
                      "%s line %d: no number '%s': %s", path, line_no + 1, keys[k], line);
            double d = json_object_get_double(v);
            cr_expect(isfinite(d) && d >= 0, "%s line %d: %s = %g", path, line_no + 1, keys[k], d);
            if (strstr(keys[k], "accuracy")) cr_expect(d <= 1.0, "%s: %s = %g", path, keys[k], d);
        }
        json_object_object_get_ex(o, "accuracy", &v);
        sum.last_accuracy = json_object_get_double(v);
        json_object_object_get_ex(o, "loss", &v);
        sum.last_loss = json_object_get_double(v);
        if (line_no == 0) sum.first_loss = sum.last_loss;
        json_object_put(o);
    }
    free(data);
    return sum;
}

/* From `onnxc eval` output: loss, accuracy and the confusion matrix's total,
 * trace and size. */
typedef struct eval_out {
    double loss, accuracy;
    uint64_t total, trace;
    size_t rows;
} eval_out;

static eval_out parse_eval(const char *out)
{
    eval_out e = {0};
    const char *at = strstr(out, "loss: ");
    cr_assert_not_null(at, "no loss in:\n%s", out);
    cr_assert_eq(sscanf(at, "loss: %lf - accuracy: %lf", &e.loss, &e.accuracy), 2, "bad loss line in:\n%s", out);
    at = strstr(out, "Confusion matrix");
    cr_assert_not_null(at, "no confusion matrix in:\n%s", out);
    at = strchr(at, '\n'); /* title */
    at = strchr(at + 1, '\n'); /* column header */
    cr_assert_not_null(at);
    for (at = at + 1; *at; e.rows++) {
        char *end;
        unsigned long long label = strtoull(at, &end, 10);
        cr_assert(end != at && label == e.rows, "confusion row %zu starts with '%.10s'", e.rows, at);
        at = end;
        for (size_t col = 0; *at && *at != '\n'; col++) {
            uint64_t v = strtoull(at, &end, 10);
            cr_assert(end != at, "confusion row %zu: junk '%.10s'", e.rows, at);
            e.total += v;
            if (col == e.rows) e.trace += v;
            at = end;
            while (*at == ' ') at++;
        }
        if (*at == '\n') at++;
    }
    return e;
}

Test(cli_train, init_then_info)
{
    char *dir = tu_tmpdir("cli-init");
    char *model = tu_path("%s/s.onnx", dir);
    tu_proc p;
    EXPECT_EXIT(&p, 0, "init", "784,64:relu,64:relu,10:softmax", "-o", model);
    /* 784*64 + 64 + 64*64 + 64 + 64*10 + 10 */
    cr_expect(strstr(p.out, "55050"), "init output: %s", p.out);
    tu_proc_free(&p);
    EXPECT_EXIT(&p, 0, "info", model);
    cr_expect_eq(count_str(p.out, "(MatMul)"), 3, "%s", p.out);
    cr_expect_eq(count_str(p.out, "(Add)"), 3, "%s", p.out);
    cr_expect_eq(count_str(p.out, "(Relu)"), 2, "%s", p.out);
    cr_expect_eq(count_str(p.out, "(Softmax)"), 1, "%s", p.out);
    cr_expect(strstr(p.out, "Total params: 55,050"), "%s", p.out);
    cr_expect(strstr(p.out, "[N, 784]") || strstr(p.out, "784]"), "%s", p.out);
    tu_proc_free(&p);
    EXPECT_EXIT(&p, 0, "check", model);
    tu_proc_free(&p);
    free(model);
    tu_rmtree(dir);
    free(dir);
}

Test(cli_train, init_is_deterministic)
{
    char *dir = tu_tmpdir("cli-init-seed");
    char *a = tu_path("%s/a.onnx", dir), *b = tu_path("%s/b.onnx", dir), *c = tu_path("%s/c.onnx", dir);
    tu_proc p;
    EXPECT_EXIT(&p, 0, "init", "20,30:tanh,5:sigmoid", "-o", a, "--seed", "9");
    tu_proc_free(&p);
    EXPECT_EXIT(&p, 0, "init", "20,30:tanh,5:sigmoid", "--seed", "9", "-o", b);
    tu_proc_free(&p);
    EXPECT_EXIT(&p, 0, "init", "20,30:tanh,5:sigmoid", "--seed", "10", "-o", c);
    tu_proc_free(&p);
    void *da, *db, *dc;
    size_t na, nb, nc;
    cr_assert(tu_read_file(a, &da, &na) && tu_read_file(b, &db, &nb) && tu_read_file(c, &dc, &nc));
    cr_expect(na == nb && !memcmp(da, db, na), "same spec and seed gave different files");
    cr_expect(na != nc || memcmp(da, dc, na), "seeds 9 and 10 gave the same file");
    free(da);
    free(db);
    free(dc);
    free(a);
    free(b);
    free(c);
    tu_rmtree(dir);
    free(dir);
}

Test(cli_train, help)
{
    static const char *const cmds[] = {"init", "train", "eval"};
    for (size_t i = 0; i < 3; i++) {
        tu_proc p;
        EXPECT_EXIT(&p, 0, cmds[i], "--help");
        char *want = tu_path("usage: onnxc %s", cmds[i]);
        cr_expect(!strncmp(p.out, want, strlen(want)), "%s --help: %s", cmds[i], p.out);
        free(want);
        tu_proc_free(&p);
    }
    tu_proc p;
    EXPECT_EXIT(&p, 0, "--help");
    cr_expect(strstr(p.out, "init") && strstr(p.out, "train") && strstr(p.out, "eval"), "%s", p.out);
    tu_proc_free(&p);
}

Test(cli_train, usage_errors)
{
    char *dir = tu_tmpdir("cli-usage");
    char *model = tu_path("%s/m.onnx", dir), *out = tu_path("%s/out.onnx", dir);
    char *x = tu_path("%s/x.npy", dir), *y = tu_path("%s/y.npy", dir);
    make_model(model);
    make_npy(dir, "64,1");
    const char *D = "--data", *d = dir;
#define T(...) ((const char *[]){ONNXC_CLI, __VA_ARGS__, NULL})
    const char *const *cases[] = {
        T("init"),
        T("init", "4,2"),
        T("init", "4,2", "-o"),
        T("init", "4,2:nosuch", "-o", out),
        T("init", "abc", "-o", out),
        T("init", "4,2", "-o", out, "--seed", "-1"),
        T("init", "4,2", "-o", out, "--seed", "1x"),
        T("init", "4,2", "5,3", "-o", out),
        T("init", "4,2", "-o", out, "--frobnicate"),
        T("train", model, D, d),                                      /* no -o */
        T("train", model, "-o", out),                                 /* no data */
        T("train", model, "-o", out, D, d, "--x", x, "--y", y),       /* both */
        T("train", model, "-o", out, "--x", x),                       /* --x alone */
        T("train", model, "-o", out, "--y", y),
        T("train", model, "-o", out, D, d, D, d),
        T("train", "-o", out, D, d),                                  /* no MODEL */
        T("train", model, model, "-o", out, D, d),
        T("train", model, "-o", out, D, d, "--epochs", "-1"),
        T("train", model, "-o", out, D, d, "--epochs", "0"),
        T("train", model, "-o", out, D, d, "--epochs", "ten"),
        T("train", model, "-o", out, D, d, "--epochs", "3.5"),
        T("train", model, "-o", out, D, d, "--batch-size", "0"),
        T("train", model, "-o", out, D, d, "--batch-size", ""),
        T("train", model, "-o", out, D, d, "--optimizer", "adamax"),
        T("train", model, "-o", out, D, d, "--loss", "hinge"),
        T("train", model, "-o", out, D, d, "--lr", "0"),
        T("train", model, "-o", out, D, d, "--lr", "-0.1"),
        T("train", model, "-o", out, D, d, "--lr", "fast"),
        T("train", model, "-o", out, D, d, "--lr", "inf"),
        T("train", model, "-o", out, D, d, "--validation-split", "1"),
        T("train", model, "-o", out, D, d, "--validation-split", "-0.1"),
        T("train", model, "-o", out, D, d, "--validation-split", "half"),
        T("train", model, "-o", out, D, d, "--seed", "-3"),
        T("train", model, "-o", out, D, d, "--threads", "0"),
        T("train", model, "-o", out, D, d, "--threads"),
        T("train", model, "-o", out, D, d, "--no-such-option"),
        T("eval", model),
        T("eval"),
        T("eval", model, D, d, "--x", x, "--y", y),
        T("eval", model, D, d, "--loss", "hinge"),
        T("eval", model, D, d, "--batch-size", "-4"),
        T("eval", model, D, d, "--threads", "many"),
        T("eval", model, D, d, "-o", out),
    };
#undef T
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_proc p;
        run_cli(cases[i], &p);
        char *cmd = tu_argv_str(cases[i]);
        cr_expect_eq(p.status, 1, "`%s` exited %d, expected 1\nstderr: %s", cmd, p.status, p.err);
        cr_expect_eq(count_char(p.err, '\n'), 1, "`%s`: expected one line on stderr, got:\n%s", cmd, p.err);
        cr_expect(strlen(p.err) > 20, "`%s`: stderr too terse: %s", cmd, p.err);
        cr_expect_eq(p.out[0], '\0', "`%s` wrote to stdout: %s", cmd, p.out);
        free(cmd);
        tu_proc_free(&p);
    }
    cr_expect(!tu_exists(out), "a failed command wrote %s", out);
    free(model);
    free(out);
    free(x);
    free(y);
    tu_rmtree(dir);
    free(dir);
}

Test(cli_train, bad_input_is_exit_2)
{
    char *dir = tu_tmpdir("cli-badinput");
    char *model = tu_path("%s/m.onnx", dir), *wide = tu_path("%s/wide.onnx", dir);
    char *out = tu_path("%s/out.onnx", dir), *x = tu_path("%s/x.npy", dir), *y = tu_path("%s/y.npy", dir);
    char *nodir = tu_path("%s/no-such-folder", dir), *nofile = tu_path("%s/no-such.npy", dir);
    char *outnodir = tu_path("%s/no-such-folder/out.onnx", dir);
    make_model(model);
    make_npy(dir, "64,2");
    tu_proc p;
    EXPECT_EXIT(&p, 0, "init", "5,2:softmax", "-o", wide);
    tu_proc_free(&p);
    const char *const cases[][12] = {
        {ONNXC_CLI, "train", model, "-o", out, "--data", nodir, NULL},
        {ONNXC_CLI, "train", model, "-o", out, "--x", nofile, "--y", y, NULL},
        {ONNXC_CLI, "train", nofile, "-o", out, "--x", x, "--y", y, NULL},
        {ONNXC_CLI, "train", wide, "-o", out, "--x", x, "--y", y, NULL},      /* 4 features into 5 */
        {ONNXC_CLI, "train", model, "-o", out, "--x", x, "--y", y, "--resume", nofile, NULL},
        {ONNXC_CLI, "train", model, "-o", outnodir, "--x", x, "--y", y, NULL},   /* checked before training */
        {ONNXC_CLI, "train", model, "-o", out, "--x", x, "--y", y, "--checkpoint", outnodir, NULL},
        {ONNXC_CLI, "eval", model, "--data", nodir, NULL},
        {ONNXC_CLI, "eval", wide, "--x", x, "--y", y, NULL},
        {ONNXC_CLI, "eval", model, "--x", x, "--y", nofile, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_proc q;
        run_cli(cases[i], &q);
        char *cmd = tu_argv_str(cases[i]);
        cr_expect_eq(q.status, 2, "`%s` exited %d, expected 2\nstderr: %s", cmd, q.status, q.err);
        cr_expect(!strncmp(q.err, "onnxc: error: ", 14), "`%s`: stderr: %s", cmd, q.err);
        cr_expect(!strstr(q.out, "Epoch "), "`%s` started training:\n%s", cmd, q.out);
        free(cmd);
        tu_proc_free(&q);
    }
    cr_expect(!tu_exists(out), "a failed command wrote %s", out);
    free(model);
    free(wide);
    free(out);
    free(x);
    free(y);
    free(nodir);
    free(nofile);
    free(outnodir);
    tu_rmtree(dir);
    free(dir);
}

Test(cli_train, npy_trains_logs_and_evaluates)
{
    char *dir = tu_tmpdir("cli-train-npy");
    char *model = tu_path("%s/m.onnx", dir), *out = tu_path("%s/out.onnx", dir);
    char *x = tu_path("%s/x.npy", dir), *y = tu_path("%s/y.npy", dir), *log = tu_path("%s/log.jsonl", dir);
    make_model(model);
    make_npy(dir, "256,3");
    tu_proc p;
    EXPECT_EXIT(&p, 0, "train", model, "--x", x, "--y", y, "-o", out, "--epochs", "6", "--batch-size", "16",
                "--lr", "0.01", "--log", log, "--threads", "2");
    /* Not a terminal: the header and final line of each epoch, no redraws. */
    cr_expect_eq(count_str(p.out, "Epoch "), 6, "%s", p.out);
    cr_expect(strstr(p.out, "Epoch 6/6\n16/16 [==============================] - "), "%s", p.out);
    cr_expect_eq(count_str(p.out, "[==============================]"), 6, "%s", p.out);
    cr_expect_eq(count_char(p.out, '\r'), 0, "redraws in a pipe:\n%s", p.out);
    cr_expect(!strstr(p.out, "ETA"), "%s", p.out);
    cr_expect(!strstr(p.out, "val_loss"), "validation without validation data:\n%s", p.out);
    cr_expect_eq(p.err[0], '\0', "stderr: %s", p.err);
    tu_proc_free(&p);

    log_summary sum = check_log(log, 1, 6, false);
    cr_expect_gt(sum.last_accuracy, 0.9, "training accuracy after 6 epochs: %g", sum.last_accuracy);
    cr_expect_lt(sum.last_loss, 0.5 * sum.first_loss, "loss %g in epoch 1, %g in epoch 6", sum.first_loss,
                 sum.last_loss);

    EXPECT_EXIT(&p, 0, "check", out);
    tu_proc_free(&p);
    EXPECT_EXIT(&p, 0, "eval", out, "--x", x, "--y", y, "--batch-size", "50");
    eval_out e = parse_eval(p.out);
    cr_expect_eq(e.rows, 2, "%s", p.out);
    cr_expect_eq(e.total, 256, "confusion entries sum to %llu:\n%s", (unsigned long long)e.total, p.out);
    cr_expect(fabs((double)e.trace / 256.0 - e.accuracy) < 1e-4, "trace %llu/256 vs accuracy %g:\n%s",
              (unsigned long long)e.trace, e.accuracy, p.out);
    cr_expect_gt(e.accuracy, 0.9, "%s", p.out);
    cr_expect(e.loss > 0 && e.loss < 0.5, "%s", p.out);
    tu_proc_free(&p);

    /* The untrained model is measurably worse on the same data. */
    EXPECT_EXIT(&p, 0, "eval", model, "--x", x, "--y", y);
    eval_out e0 = parse_eval(p.out);
    cr_expect_eq(e0.total, 256);
    cr_expect_gt(e0.loss, e.loss, "untrained loss %g <= trained %g", e0.loss, e.loss);
    tu_proc_free(&p);

    /* --keep-denormals reaches the trainer (IEEE subnormals; what it changes
     * is tested through the API in test_fp_env.c) and trains as well. */
    char *log2 = tu_path("%s/log-keep.jsonl", dir);
    EXPECT_EXIT(&p, 0, "train", model, "--x", x, "--y", y, "-o", out, "--epochs", "6", "--batch-size", "16",
                "--lr", "0.01", "--log", log2, "--keep-denormals");
    tu_proc_free(&p);
    log_summary keep = check_log(log2, 1, 6, false);
    cr_expect_gt(keep.last_accuracy, 0.9, "--keep-denormals: training accuracy after 6 epochs: %g",
                 keep.last_accuracy);
    free(log2);

    free(model);
    free(out);
    free(x);
    free(y);
    free(log);
    tu_rmtree(dir);
    free(dir);
}

Test(cli_train, validation_split_is_logged)
{
    char *dir = tu_tmpdir("cli-train-split");
    char *model = tu_path("%s/m.onnx", dir), *out = tu_path("%s/out.onnx", dir);
    char *x = tu_path("%s/x.npy", dir), *y = tu_path("%s/y.npy", dir), *log = tu_path("%s/log.jsonl", dir);
    make_model(model);
    make_npy(dir, "200,4");
    tu_proc p;
    EXPECT_EXIT(&p, 0, "train", model, "--x", x, "--y", y, "-o", out, "--epochs", "2", "--validation-split",
                "0.25", "--log", log, "--optimizer", "sgd", "--no-shuffle", "--seed", "11");
    /* 150 training samples in batches of 32: 5 steps. */
    cr_expect(strstr(p.out, "5/5 [==============================]"), "%s", p.out);
    cr_expect_eq(count_str(p.out, " - val_loss: "), 2, "%s", p.out);
    cr_expect_eq(count_str(p.out, " - val_accuracy: "), 2, "%s", p.out);
    tu_proc_free(&p);
    check_log(log, 1, 2, true);
    free(model);
    free(out);
    free(x);
    free(y);
    free(log);
    tu_rmtree(dir);
    free(dir);
}

Test(cli_train, idx_folder_validates_on_t10k)
{
    char *dir = tu_tmpdir("cli-train-idx");
    char *with = tu_path("%s/with", dir), *without = tu_path("%s/without", dir);
    char *model = tu_path("%s/m.onnx", dir), *out = tu_path("%s/out.onnx", dir), *log = tu_path("%s/log.jsonl", dir);
    tu_proc p;
    cr_assert(tu_run((const char *[]){"mkdir", with, without, NULL}, 10, &p));
    tu_proc_free(&p);
    make_idx(with, true);
    make_idx(without, false);
    make_model(model);

    /* t10k present: validation after every epoch, on its 100 samples. */
    EXPECT_EXIT(&p, 0, "train", model, "--data", with, "-o", out, "--epochs", "8", "--lr", "0.02",
                "--batch-size", "20", "--log", log);
    cr_expect(strstr(p.out, "validate on 100 samples"), "%s", p.out);
    cr_expect_eq(count_str(p.out, " - val_accuracy: "), 8, "%s", p.out);
    tu_proc_free(&p);
    check_log(log, 1, 8, true);

    EXPECT_EXIT(&p, 0, "eval", out, "--data", with);
    cr_expect(strstr(p.out, "(t10k)") && strstr(p.out, "100 samples"), "%s", p.out);
    eval_out e = parse_eval(p.out);
    cr_expect_eq(e.total, 100, "%s", p.out);
    cr_expect_gt(e.accuracy, 0.9, "%s", p.out);
    tu_proc_free(&p);

    /* --validation-split 0 turns the t10k validation off. */
    EXPECT_EXIT(&p, 0, "train", model, "--data", with, "-o", out, "--epochs", "1", "--validation-split", "0",
                "--log", log);
    cr_expect(!strstr(p.out, "val_loss"), "%s", p.out);
    tu_proc_free(&p);
    check_log(log, 1, 1, false);

    /* No t10k: no validation, and eval falls back to the train split. */
    EXPECT_EXIT(&p, 0, "train", model, "--data", without, "-o", out, "--log", log);
    cr_expect(!strstr(p.out, "val_loss"), "%s", p.out);
    tu_proc_free(&p);
    check_log(log, 1, 1, false);
    EXPECT_EXIT(&p, 0, "eval", out, "--data", without);
    cr_expect(strstr(p.out, "(train)") && strstr(p.out, "200 samples"), "%s", p.out);
    cr_expect_eq(parse_eval(p.out).total, 200, "%s", p.out);
    tu_proc_free(&p);

    free(with);
    free(without);
    free(model);
    free(out);
    free(log);
    tu_rmtree(dir);
    free(dir);
}

Test(cli_train, checkpoint_is_onnx_and_resumes)
{
    char *dir = tu_tmpdir("cli-train-ckpt");
    char *model = tu_path("%s/m.onnx", dir), *out = tu_path("%s/out.onnx", dir), *ck = tu_path("%s/ck.onnx", dir);
    char *x = tu_path("%s/x.npy", dir), *y = tu_path("%s/y.npy", dir), *log = tu_path("%s/log.jsonl", dir);
    make_model(model);
    make_npy(dir, "96,5");
    tu_proc p;
    EXPECT_EXIT(&p, 0, "train", model, "--x", x, "--y", y, "-o", out, "--epochs", "2", "--checkpoint", ck,
                "--log", log);
    tu_proc_free(&p);
    cr_assert(tu_exists(ck), "no checkpoint at %s", ck);
    EXPECT_EXIT(&p, 0, "check", ck);
    tu_proc_free(&p);
    EXPECT_EXIT(&p, 0, "info", ck);
    cr_expect(strstr(p.out, "(MatMul)"), "%s", p.out);
    tu_proc_free(&p);

    /* --resume continues to --epochs in total and appends to the log. */
    EXPECT_EXIT(&p, 0, "train", model, "--x", x, "--y", y, "-o", out, "--epochs", "3", "--resume", ck, "--log",
                log);
    cr_expect_eq(count_str(p.out, "Epoch "), 1, "%s", p.out);
    cr_expect(strstr(p.out, "Epoch 3/3"), "%s", p.out);
    tu_proc_free(&p);
    check_log(log, 1, 3, false);

    free(model);
    free(out);
    free(ck);
    free(x);
    free(y);
    free(log);
    tu_rmtree(dir);
    free(dir);
}

/* On a terminal the bar is redrawn in place: run under script(1)'s pty. */
Test(cli_train, terminal_redraws_in_place)
{
    if (!tu_have_program("script")) cr_skip_test("script(1) is not installed");
    char *dir = tu_tmpdir("cli-train-tty");
    char *model = tu_path("%s/m.onnx", dir), *out = tu_path("%s/out.onnx", dir);
    char *x = tu_path("%s/x.npy", dir), *y = tu_path("%s/y.npy", dir);
    make_model(model);
    make_npy(dir, "128,6");
    char *cmd = tu_path("'%s' train '%s' --x '%s' --y '%s' -o '%s' --epochs 2", ONNXC_CLI, model, x, y, out);
    tu_proc p;
    tu_run((const char *[]){"script", "-qec", cmd, "/dev/null", NULL}, 300, &p);
    cr_assert_eq(p.status, 0, "%s: %d\n%s%s", cmd, p.status, p.out, p.err);
    /* The first batch of each epoch is drawn with an ETA, the end replaces it
     * ("\r" alone: the pty turns each '\n' into "\r\n"). */
    cr_expect(strstr(p.out, "\r1/4 [") && strstr(p.out, " - ETA: "), "%s", p.out);
    cr_expect(strstr(p.out, "\r4/4 [==============================] - "), "%s", p.out);
    tu_proc_free(&p);
    free(cmd);
    free(model);
    free(out);
    free(x);
    free(y);
    tu_rmtree(dir);
    free(dir);
}

/* The acceptance check: one epoch of Fashion-MNIST, ~0.83 on t10k. */
Test(cli_train, fashion_mnist_one_epoch, .timeout = 900)
{
    if (!tu_is_dir(FASHION_DIR)) cr_skip_test(FASHION_DIR " is not installed");
    char *dir = tu_tmpdir("cli-train-fashion");
    char *model = tu_path("%s/m.onnx", dir), *out = tu_path("%s/out.onnx", dir), *log = tu_path("%s/log.jsonl", dir);
    tu_proc p;
    EXPECT_EXIT(&p, 0, "init", "784,64:relu,64:relu,10:softmax", "-o", model);
    tu_proc_free(&p);
    EXPECT_EXIT(&p, 0, "train", model, "--data", FASHION_DIR, "-o", out, "--epochs", "1", "--log", log, "--threads", "1");
    cr_expect(strstr(p.out, "1875/1875 [==============================]"), "%s", p.out);
    tu_proc_free(&p);
    check_log(log, 1, 1, true);
    EXPECT_EXIT(&p, 0, "eval", out, "--data", FASHION_DIR);
    eval_out e = parse_eval(p.out);
    cr_expect_eq(e.rows, 10, "%s", p.out);
    cr_expect_eq(e.total, 10000, "%s", p.out);
    /* Keras reaches 0.82-0.85 after one epoch of this network. */
    cr_expect_gt(e.accuracy, 0.80, "%s", p.out);
    tu_proc_free(&p);
    free(model);
    free(out);
    free(log);
    tu_rmtree(dir);
    free(dir);
}
