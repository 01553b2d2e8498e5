/*
 * End-to-end timing of onnxc through its public C API, in-process.
 *
 *     bench_onnxc MODEL BATCH THREADS ITERS [--input X.npy] [--warmup W]
 *                 [--out Y.npy] [--samples]
 *     bench_onnxc --serve
 *
 * Loads MODEL (input [N, F]), creates a session with THREADS threads, runs
 * W warm-up calls (default max(10, ITERS/10)), then times ITERS calls of
 * onnxc_session_run one by one and prints one JSON line:
 *
 *   {"model":"seed.onnx","batch":32,"threads":1,"iters":1000,
 *    "median_us":..,"min_us":..,"mean_us":..,"p10_us":..,"p90_us":..}
 *
 * (--samples adds "samples_us":[...] with every call). The input is X.npy
 * (its first BATCH rows; the file must have at least that many) or, without
 * --input, uniform [0, 1) values from a fixed seed. --out writes the first
 * output of the last call as .npy, for checking against another runtime.
 *
 * --serve reads such argument lines (without the program name) from stdin
 * and answers each with the JSON line, keeping models, sessions and inputs
 * between requests: bench/run.py alternates it with ONNX Runtime without
 * paying process start-up or session creation inside the comparison.
 * Errors print {"error": "..."} (serve mode continues; else exit 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onnxc.h"

#define MAX_CACHE 32

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Value at fraction q of sorted v[n] (nearest rank). */
static double quantile(const double *v, int n, double q)
{
    int i = (int)(q * (n - 1) + 0.5);
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* ---- caches: one model + session per (path, threads), one input per (path, batch) ---- */

typedef struct entry {
    char *path;
    int threads;
    onnxc_model *model;
    onnxc_session *session;
    int64_t features;     /* dims[1] of input 0 */
} entry;

typedef struct input {
    char *path;           /* NULL: random */
    int64_t batch, features;
    float *data;          /* [batch, features] */
} input;

static entry entries[MAX_CACHE];
static int n_entries;
static input inputs[MAX_CACHE];
static int n_inputs;

static void json_error(const char *fmt, const char *a, const char *b)
{
    char msg[9000];
    snprintf(msg, sizeof msg, fmt, a, b);
    printf("{\"error\":\"");
    for (const char *p = msg; *p; p++) {
        if (*p == '"' || *p == '\\') putchar('\\');
        putchar(*p == '\n' ? ' ' : *p);
    }
    printf("\"}\n");
    fflush(stdout);
}

static entry *get_session(const char *path, int threads)
{
    for (int i = 0; i < n_entries; i++)
        if (entries[i].threads == threads && !strcmp(entries[i].path, path)) return &entries[i];
    if (n_entries == MAX_CACHE) {
        json_error("too many models/thread counts (max %s)%s", "32", "");
        return NULL;
    }
    entry *e = &entries[n_entries];
    onnxc_error err;
    if (onnxc_model_load(path, NULL, &e->model, &err) != ONNXC_OK) {
        json_error("%s: %s", path, err.message);
        return NULL;
    }
    onnxc_session_options opt = {.threads = threads, .seed = 1};
    onnxc_value_info vi;
    if (onnxc_session_create(e->model, &opt, &e->session, &err) != ONNXC_OK ||
        onnxc_model_input(e->model, 0, &vi) != ONNXC_OK || vi.rank != 2 || vi.dims[1] < 1) {
        json_error("%s: cannot create a session or input 0 is not [N, F]: %s", path, err.message);
        onnxc_session_free(e->session);
        onnxc_model_free(e->model);
        return NULL;
    }
    e->features = vi.dims[1];
    e->path = strdup(path);
    e->threads = threads;
    n_entries++;
    return e;
}

static input *get_input(const char *path, int64_t batch, int64_t features)
{
    for (int i = 0; i < n_inputs; i++) {
        input *in = &inputs[i];
        if (in->batch == batch && in->features == features &&
            ((!path && !in->path) || (path && in->path && !strcmp(path, in->path))))
            return in;
    }
    if (n_inputs == MAX_CACHE) {
        json_error("too many inputs (max %s)%s", "32", "");
        return NULL;
    }
    input *in = &inputs[n_inputs];
    in->data = malloc((size_t)(batch * features) * sizeof(float));
    if (!in->data) {
        json_error("out of memory for the input%s%s", "", "");
        return NULL;
    }
    if (path) {
        onnxc_tensor t;
        onnxc_error err;
        if (onnxc_tensor_load(path, &t, &err) != ONNXC_OK) {
            json_error("%s: %s", path, err.message);
            free(in->data);
            return NULL;
        }
        if (t.dtype != ONNXC_FLOAT || t.rank != 2 || t.dims[0] < batch || t.dims[1] != features) {
            json_error("%s: expected float [>= batch, F] matching the model%s", path, "");
            onnxc_tensor_release(&t);
            free(in->data);
            return NULL;
        }
        memcpy(in->data, t.data, (size_t)(batch * features) * sizeof(float));
        onnxc_tensor_release(&t);
    } else {
        uint64_t s = 0x2545f4914f6cdd1dull;
        for (int64_t i = 0; i < batch * features; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            in->data[i] = (float)(s >> 40) * 0x1p-24f;
        }
    }
    in->path = path ? strdup(path) : NULL;
    in->batch = batch;
    in->features = features;
    n_inputs++;
    return in;
}

/* One request; 0 on success. */
static int request(int argc, char **argv)
{
    if (argc < 4) {
        json_error("usage: MODEL BATCH THREADS ITERS [--input X.npy] [--warmup W] [--out Y.npy] "
                   "[--samples]%s%s", "", "");
        return 1;
    }
    const char *model = argv[0], *in_path = NULL, *out_path = NULL;
    long batch = atol(argv[1]), threads = atol(argv[2]), iters = atol(argv[3]), warmup = -1;
    int samples = 0;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--input") && i + 1 < argc) in_path = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out_path = argv[++i];
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atol(argv[++i]);
        else if (!strcmp(argv[i], "--samples")) samples = 1;
        else {
            json_error("unknown argument '%s'%s", argv[i], "");
            return 1;
        }
    }
    if (batch < 1 || threads < 1 || iters < 1) {
        json_error("BATCH, THREADS and ITERS must be >= 1%s%s", "", "");
        return 1;
    }
    if (warmup < 0) warmup = iters / 10 > 10 ? iters / 10 : 10;
    entry *e = get_session(model, (int)threads);
    if (!e) return 1;
    input *in = get_input(in_path, batch, e->features);
    if (!in) return 1;

    onnxc_tensor x = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {batch, e->features}, .data = in->data};
    onnxc_tensor y = {0};
    onnxc_error err;
    double *t = malloc((size_t)iters * sizeof(double));
    if (!t) return 1;
    for (long i = 0; i < warmup + iters; i++) {
        y.data = NULL; /* session-owned output: no copy */
        double t0 = now_s();
        onnxc_status st = onnxc_session_run(e->session, &x, 1, &y, 1, &err);
        double dt = now_s() - t0;
        if (st != ONNXC_OK) {
            json_error("%s: run failed: %s", model, err.message);
            free(t);
            return 1;
        }
        if (i >= warmup) t[i - warmup] = dt;
    }
    if (out_path && onnxc_tensor_save(out_path, &y, &err) != ONNXC_OK) {
        json_error("%s: %s", out_path, err.message);
        free(t);
        return 1;
    }
    double sum = 0;
    for (long i = 0; i < iters; i++) sum += t[i];
    printf("{\"model\":\"%s\",\"batch\":%ld,\"threads\":%ld,\"iters\":%ld", model, batch, threads,
           iters);
    if (samples) {
        printf(",\"samples_us\":[");
        for (long i = 0; i < iters; i++) printf("%s%.4f", i ? "," : "", 1e6 * t[i]);
        printf("]");
    }
    qsort(t, (size_t)iters, sizeof *t, cmp_double);
    printf(",\"median_us\":%.4f,\"min_us\":%.4f,\"mean_us\":%.4f,\"p10_us\":%.4f,\"p90_us\":%.4f}\n",
           1e6 * quantile(t, (int)iters, 0.5), 1e6 * t[0], 1e6 * sum / (double)iters,
           1e6 * quantile(t, (int)iters, 0.1), 1e6 * quantile(t, (int)iters, 0.9));
    fflush(stdout);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--serve")) {
        char line[4096];
        while (fgets(line, sizeof line, stdin)) {
            char *args[32];
            int n = 0;
            for (char *tok = strtok(line, " \t\r\n"); tok && n < 32; tok = strtok(NULL, " \t\r\n"))
                args[n++] = tok;
            if (n == 0) continue;
            if (!strcmp(args[0], "quit")) break;
            request(n, args);
        }
    } else if (request(argc - 1, argv + 1)) {
        return 1;
    }
    for (int i = 0; i < n_entries; i++) {
        onnxc_session_free(entries[i].session);
        onnxc_model_free(entries[i].model);
        free(entries[i].path);
    }
    for (int i = 0; i < n_inputs; i++) {
        free(inputs[i].data);
        free(inputs[i].path);
    }
    return 0;
}
