/*
 * Load-side timings and memory of onnxc through its public C API, one
 * measurement per process (so every run starts from a fresh heap):
 *
 *     bench_load model MODEL [--batch B] [--threads T] [--inference-only]
 *     bench_load idx DIR
 *
 * `model`: times onnxc_model_load, onnxc_session_create and the first
 * onnxc_session_run at batch B (default 1; the first run builds the
 * execution plan, and is where weights get packed once the kernels do), and
 * reads the process's peak RSS (getrusage ru_maxrss, which only grows) after
 * each step, so each figure is the peak up to and including that step. The
 * input is [B, F] floats with F from the model's first input (uniform [0, 1),
 * fixed seed). --inference-only calls onnxc_model_set_inference_only after
 * the load (as `onnxc run` does), timed as prepare_ms (0 without it). One
 * JSON line:
 *
 *   {"model":"big.onnx","file_bytes":..,"batch":1,"threads":1,"inference_only":false,
 *    "load_ms":..,"prepare_ms":..,"create_ms":..,"first_run_ms":..,
 *    "rss_start_kb":..,"peak_load_kb":..,"peak_prepare_kb":..,"peak_create_kb":..,
 *    "peak_run_kb":..,"rss_end_kb":..}
 *
 * `idx`: times onnxc_dataset_load_idx for the train and t10k splits of an
 * MNIST-style folder (what `onnxc train --data DIR` does before training):
 *
 *   {"dir":"..","train_ms":..,"t10k_ms":..,"samples":70000}
 *
 * Errors print {"error": "..."} and exit 1. Used by bench/memory.py and
 * bench/train_vs_torch.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "onnxc.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* Peak resident set of this process so far, KiB. */
static long peak_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Resident set now, KiB (/proc/self/statm: pages). */
static long rss_kb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int fail(const char *msg)
{
    printf("{\"error\":\"");
    for (const char *c = msg; *c; c++) {
        if (*c == '"' || *c == '\\') putchar('\\');
        if (*c == '\n') {
            printf("\\n");
            continue;
        }
        putchar(*c);
    }
    printf("\"}\n");
    return 1;
}

static int bench_model(const char *path, long batch, int threads, int inference_only)
{
    struct stat st;
    if (stat(path, &st) != 0) return fail("cannot stat the model");
    long rss_start = rss_kb();
    onnxc_error err;
    onnxc_model *m = NULL;
    onnxc_session *s = NULL;
    double t0 = now_ms();
    if (onnxc_model_load(path, NULL, &m, &err) != ONNXC_OK) return fail(err.message);
    double t1 = now_ms();
    long peak_load = peak_kb();
    if (inference_only && onnxc_model_set_inference_only(m, &err) != ONNXC_OK) {
        onnxc_model_free(m);
        return fail(err.message);
    }
    double t1b = now_ms();
    long peak_prepare = peak_kb();
    onnxc_session_options so = {.threads = threads};
    if (onnxc_session_create(m, &so, &s, &err) != ONNXC_OK) {
        onnxc_model_free(m);
        return fail(err.message);
    }
    double t2 = now_ms();
    long peak_create = peak_kb();

    onnxc_value_info vi;
    if (onnxc_model_input(m, 0, &vi) != ONNXC_OK || vi.rank != 2 || vi.dims[1] <= 0 || vi.dtype != ONNXC_FLOAT) {
        onnxc_session_free(s);
        onnxc_model_free(m);
        return fail("expected a first input float [N, F]");
    }
    size_t n = (size_t)batch * (size_t)vi.dims[1];
    float *x = malloc(n * sizeof *x); /* [batch, F] */
    if (!x) return fail("out of memory");
    uint64_t r = 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < n; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        x[i] = (float)((double)(r >> 40) / 16777216.0);
    }
    onnxc_tensor in = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {batch, vi.dims[1]}, .data = x};
    onnxc_tensor out = {0};
    double t3 = now_ms();
    onnxc_status rs = onnxc_session_run(s, &in, 1, &out, 1, &err);
    double t4 = now_ms();
    long peak_run = peak_kb(), rss_end = rss_kb();
    free(x);
    onnxc_session_free(s);
    onnxc_model_free(m);
    if (rs != ONNXC_OK) return fail(err.message);
    printf("{\"model\":\"%s\",\"file_bytes\":%lld,\"batch\":%ld,\"threads\":%d,\"inference_only\":%s,"
           "\"load_ms\":%.3f,\"prepare_ms\":%.3f,\"create_ms\":%.3f,\"first_run_ms\":%.3f,"
           "\"rss_start_kb\":%ld,\"peak_load_kb\":%ld,\"peak_prepare_kb\":%ld,\"peak_create_kb\":%ld,"
           "\"peak_run_kb\":%ld,\"rss_end_kb\":%ld}\n",
           path, (long long)st.st_size, batch, threads, inference_only ? "true" : "false", t1 - t0, t1b - t1,
           t2 - t1b, t4 - t3, rss_start, peak_load, peak_prepare, peak_create, peak_run, rss_end);
    return 0;
}

static int bench_idx(const char *dir)
{
    onnxc_error err;
    onnxc_dataset *train = NULL, *test = NULL;
    double t0 = now_ms();
    if (onnxc_dataset_load_idx(dir, "train", &train, &err) != ONNXC_OK) return fail(err.message);
    double t1 = now_ms();
    if (onnxc_dataset_load_idx(dir, "t10k", &test, &err) != ONNXC_OK) {
        onnxc_dataset_free(train);
        return fail(err.message);
    }
    double t2 = now_ms();
    printf("{\"dir\":\"%s\",\"train_ms\":%.3f,\"t10k_ms\":%.3f,\"samples\":%zu}\n", dir, t1 - t0, t2 - t1,
           onnxc_dataset_size(train) + onnxc_dataset_size(test));
    onnxc_dataset_free(train);
    onnxc_dataset_free(test);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "idx")) return bench_idx(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "model")) {
        long batch = 1, threads = 1;
        int inference_only = 0, bad = 0;
        for (int i = 3; i < argc; i++) {
            if (!strcmp(argv[i], "--inference-only")) inference_only = 1;
            else if (i + 1 < argc && !strcmp(argv[i], "--batch")) batch = strtol(argv[++i], NULL, 10);
            else if (i + 1 < argc && !strcmp(argv[i], "--threads")) threads = strtol(argv[++i], NULL, 10);
            else bad = 1;
        }
        if (bad || batch < 1 || batch > 1 << 20 || threads < 1 || threads > 1024)
            return fail("usage: bench_load model MODEL [--batch B] [--threads T] [--inference-only]");
        return bench_model(argv[2], batch, (int)threads, inference_only);
    }
    return fail("usage: bench_load model MODEL [--batch B] [--threads T] [--inference-only] | bench_load idx DIR");
}
