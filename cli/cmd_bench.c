/*
 * onnxc bench: time a model on synthetic inputs, per batch size, through the
 * public API (onnxc_session_run in a loop), so users can measure their own
 * models the way bench/ measures ours. The inputs are synthetic, made from
 * the model's declared input shapes (bench_inputs.h).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_inputs.h"
#include "cli.h"

static const char help[] =
    "usage: onnxc bench MODEL [--batch LIST] [--threads N] [--seconds S | --iters N]\n"
    "                   [--warmup N] [--check-threads] [--json]\n"
    "\n"
    "Time MODEL on synthetic inputs and print, per batch size, the median, fastest\n"
    "and 90th-percentile latency of one onnxc_session_run call and the throughput\n"
    "(samples per second at the median). The batch size fills each input's first\n"
    "symbolic dim; a model without symbolic dims runs at its own first dim. Float\n"
    "inputs get uniform values in [0, 1), integer inputs values in 0..3 (uint8 and\n"
    "int8: their whole range), bool inputs 0 or 1, all from a fixed seed.\n"
    "\n"
    "options:\n"
    "  --batch LIST       comma-separated batch sizes (default 1,32,256)\n"
    "  --threads N        kernel threads (default: the session default, i.e.\n"
    "                     OMP_NUM_THREADS or all cores)\n"
    "  --seconds S        timed seconds per batch size (default 1; at least 5 calls)\n"
    "  --iters N          exactly N timed calls per batch size (overrides --seconds)\n"
    "  --warmup N         untimed calls first (default 3; the first builds the plan)\n"
    "  --check-threads    also run each batch at 1 thread and at N threads (2 when N\n"
    "                     is 1) and check that the outputs are bit-identical; exit 2\n"
    "                     when they are not\n"
    "  --json             print one JSON object instead of the table\n";

#define MAX_BATCHES 32
#define MAX_BATCH 100000000L
#define MAX_ITERS 1000000L

enum { OPT_BATCH = 0x100, OPT_THREADS, OPT_SECONDS, OPT_ITERS, OPT_WARMUP, OPT_CHECK, OPT_JSON };

typedef struct bench_args {
    const char *model_path;
    long batches[MAX_BATCHES];
    int n_batches;                 /* 0: not given */
    long threads;                  /* 0: session default */
    double seconds;
    long iters;                    /* 0: time budget instead */
    long warmup;
    bool check_threads, json;
} bench_args;

/* One timed batch size. */
typedef struct point {
    long batch, iters;
    double median_us, min_us, p90_us, mean_us, samples_per_s;
} point;

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

static bool parse_batches(const char *s, bench_args *a)
{
    a->n_batches = 0;
    const char *p = s;
    while (*p) {
        char item[32];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof item || a->n_batches == MAX_BATCHES) return false;
        memcpy(item, p, len);
        item[len] = '\0';
        if (!cli_parse_int(item, 1, MAX_BATCH, &a->batches[a->n_batches++])) return false;
        p += len;
        if (*p == ',' && !*++p) return false; /* trailing comma */
    }
    return a->n_batches > 0;
}

static bool parse_seconds(const char *s, double *out)
{
    char *end;
    double v = s && *s ? strtod(s, &end) : 0.0;
    if (!s || !*s || *end || !(v > 0.0) || v > 3600.0) return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, bench_args *a)
{
    static const struct option opts[] = {
        {"batch", required_argument, 0, OPT_BATCH},     {"threads", required_argument, 0, OPT_THREADS},
        {"seconds", required_argument, 0, OPT_SECONDS}, {"iters", required_argument, 0, OPT_ITERS},
        {"warmup", required_argument, 0, OPT_WARMUP},   {"check-threads", no_argument, 0, OPT_CHECK},
        {"json", no_argument, 0, OPT_JSON},             {0, 0, 0, 0},
    };
    memset(a, 0, sizeof *a);
    a->seconds = 1.0;
    a->warmup = 3;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case OPT_BATCH:
            if (!parse_batches(optarg, a))
                return cli_usage_error("bench", "--batch expects up to %d sizes 1..%ld separated by commas, got '%s'",
                                       MAX_BATCHES, MAX_BATCH, optarg);
            break;
        case OPT_THREADS:
            if (!cli_parse_int(optarg, 1, 4096, &a->threads))
                return cli_usage_error("bench", "--threads expects 1..4096, got '%s'", optarg);
            break;
        case OPT_SECONDS:
            if (!parse_seconds(optarg, &a->seconds))
                return cli_usage_error("bench", "--seconds expects a number > 0 and <= 3600, got '%s'", optarg);
            break;
        case OPT_ITERS:
            if (!cli_parse_int(optarg, 1, MAX_ITERS, &a->iters))
                return cli_usage_error("bench", "--iters expects 1..%ld, got '%s'", MAX_ITERS, optarg);
            break;
        case OPT_WARMUP:
            if (!cli_parse_int(optarg, 0, MAX_ITERS, &a->warmup))
                return cli_usage_error("bench", "--warmup expects 0..%ld, got '%s'", MAX_ITERS, optarg);
            break;
        case OPT_CHECK: a->check_threads = true; break;
        case OPT_JSON: a->json = true; break;
        case ':': return cli_usage_error("bench", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("bench", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind == argc) return cli_usage_error("bench", "expected a MODEL argument");
    if (optind != argc - 1) return cli_usage_error("bench", "expected one MODEL, got '%s' as well", argv[optind + 1]);
    a->model_path = argv[optind];
    return EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* Timing and the thread check                                               */

/* One call with session-owned outputs (data NULL asks the session for them). */
static onnxc_status run_once(onnxc_session *s, const onnxc_tensor *in, size_t n_in, onnxc_tensor *out,
                             size_t n_out, onnxc_error *err)
{
    for (size_t k = 0; k < n_out; k++) {
        out[k].data = NULL;
        out[k].capacity = 0;
    }
    return onnxc_session_run(s, in, n_in, out, n_out, err);
}

static int time_point(onnxc_session *s, const bench_args *a, const onnxc_tensor *in, size_t n_in,
                      onnxc_tensor *out, size_t n_out, long batch, point *pt)
{
    onnxc_error err;
    for (long i = 0; i < a->warmup; i++)
        if (run_once(s, in, n_in, out, n_out, &err) != ONNXC_OK) return cli_report(&err);
    size_t cap = 1024, n = 0;
    double *t = malloc(cap * sizeof *t); /* [calls] seconds per call */
    if (!t) {
        fprintf(stderr, "onnxc: error: out of memory\n");
        return EXIT_BAD_INPUT;
    }
    double start = now_s();
    for (;;) {
        if (a->iters ? (long)n >= a->iters
                     : (n >= 5 && now_s() - start >= a->seconds) || (long)n >= MAX_ITERS)
            break;
        if (n == cap) {
            double *grown = realloc(t, 2 * cap * sizeof *t);
            if (!grown) break; /* enough samples anyway */
            t = grown;
            cap *= 2;
        }
        double t0 = now_s();
        if (run_once(s, in, n_in, out, n_out, &err) != ONNXC_OK) {
            free(t);
            return cli_report(&err);
        }
        t[n++] = now_s() - t0;
    }
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += t[i];
    qsort(t, n, sizeof *t, cmp_double);
    *pt = (point){.batch = batch, .iters = (long)n};
    pt->median_us = 1e6 * (n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]));
    pt->min_us = 1e6 * t[0];
    pt->p90_us = 1e6 * t[(size_t)(0.9 * (double)(n - 1) + 0.5)];
    pt->mean_us = 1e6 * sum / (double)n;
    pt->samples_per_s = pt->median_us > 0 ? (double)batch * 1e6 / pt->median_us : 0.0;
    free(t);
    return EXIT_OK;
}

/* Outputs of one run, copied out of the session. */
typedef struct saved_out {
    onnxc_tensor t;
    size_t bytes;
} saved_out;

static void free_saved(saved_out *s, size_t n)
{
    for (size_t k = 0; k < n; k++) free(s[k].t.data);
}

static int run_and_save(onnxc_session *s, const onnxc_tensor *in, size_t n_in, onnxc_tensor *out, size_t n_out,
                        saved_out *saved)
{
    onnxc_error err;
    if (run_once(s, in, n_in, out, n_out, &err) != ONNXC_OK) return cli_report(&err);
    for (size_t k = 0; k < n_out; k++) {
        size_t count = 1, size = bench_dtype_size(out[k].dtype);
        for (int d = 0; d < out[k].rank; d++) count *= (size_t)out[k].dims[d];
        saved[k].t = out[k];
        saved[k].t.data = NULL;
        saved[k].bytes = count * size;
        if (!size) continue; /* not comparable; reported by the caller */
        saved[k].t.data = malloc(saved[k].bytes ? saved[k].bytes : 1);
        if (!saved[k].t.data) {
            fprintf(stderr, "onnxc: error: out of memory\n");
            return EXIT_BAD_INPUT;
        }
        memcpy(saved[k].t.data, out[k].data, saved[k].bytes);
    }
    return EXIT_OK;
}

/*
 * Run `in` on a 1-thread and an n-thread session and compare every output
 * bit for bit. Returns the exit code; *same reports the verdict, `why` the
 * first difference.
 */
static int check_threads(const onnxc_model *m, const onnxc_tensor *in, size_t n_in, onnxc_tensor *out,
                         size_t n_out, int threads, bool *same, char *why, size_t why_size)
{
    saved_out *res[2] = {calloc(n_out + 1, sizeof(saved_out)), calloc(n_out + 1, sizeof(saved_out))};
    int rc = EXIT_OK;
    *same = true;
    if (!res[0] || !res[1]) {
        fprintf(stderr, "onnxc: error: out of memory\n");
        rc = EXIT_BAD_INPUT;
        goto done;
    }
    const int counts[2] = {1, threads};
    for (int i = 0; i < 2 && !rc; i++) {
        onnxc_session *s = NULL;
        onnxc_error err;
        onnxc_session_options so = {.threads = counts[i]};
        if (onnxc_session_create(m, &so, &s, &err) != ONNXC_OK) rc = cli_report(&err);
        else rc = run_and_save(s, in, n_in, out, n_out, res[i]);
        onnxc_session_free(s);
    }
    for (size_t k = 0; k < n_out && !rc && *same; k++) {
        const onnxc_tensor *x = &res[0][k].t, *y = &res[1][k].t;
        onnxc_value_info vi;
        onnxc_model_output(m, k, &vi);
        if (!x->data || !y->data) {
            snprintf(why, why_size, "output '%s' has type %s, which bench cannot compare", vi.name,
                     onnxc_dtype_name(x->dtype));
            *same = false;
        } else if (x->dtype != y->dtype || x->rank != y->rank ||
                   memcmp(x->dims, y->dims, (size_t)x->rank * sizeof x->dims[0]) ||
                   res[0][k].bytes != res[1][k].bytes) {
            snprintf(why, why_size, "output '%s' has a different type or shape", vi.name);
            *same = false;
        } else if (memcmp(x->data, y->data, res[0][k].bytes)) {
            size_t esize = bench_dtype_size(x->dtype), i = 0;
            while (!memcmp((const char *)x->data + i * esize, (const char *)y->data + i * esize, esize)) i++;
            if (x->dtype == ONNXC_FLOAT)
                snprintf(why, why_size, "output '%s' element %zu: %.9g at 1 thread, %.9g at %d", vi.name, i,
                         ((const float *)x->data)[i], ((const float *)y->data)[i], threads);
            else
                snprintf(why, why_size, "output '%s' element %zu differs", vi.name, i);
            *same = false;
        }
    }
done:
    if (res[0]) free_saved(res[0], n_out);
    if (res[1]) free_saved(res[1], n_out);
    free(res[0]);
    free(res[1]);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Report                                                                    */

static void print_duration(double us)
{
    if (us >= 1e6) printf("%9.3f s ", us * 1e-6);
    else if (us >= 1e3) printf("%9.3f ms", us * 1e-3);
    else printf("%9.2f us", us);
}

static void json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') printf("\\%c", *c);
        else if (*c < 0x20) printf("\\u%04x", *c);
        else putchar(*c);
    }
    putchar('"');
}

static void print_shape(const onnxc_value_info *vi)
{
    printf("[");
    for (int d = 0; d < vi->rank; d++) {
        if (vi->dims[d] >= 0) printf("%s%" PRId64, d ? ", " : "", vi->dims[d]);
        else printf("%s%s", d ? ", " : "", vi->dim_names[d] ? vi->dim_names[d] : "?");
    }
    printf("]");
}

typedef struct check_result {
    bool done, same;
    int threads;
    long batch;                  /* first batch that differed */
    char why[256];
} check_result;

static void print_table(const bench_args *a, const input_plan *plans, size_t n_in, int threads, const point *pts,
                        int n_pts, const check_result *chk)
{
    printf("%s: %d thread%s, ", a->model_path, threads, threads == 1 ? "" : "s");
    if (a->iters) printf("%ld calls", a->iters);
    else printf("%g s", a->seconds);
    printf(" per batch size after %ld warm-up call%s\n", a->warmup, a->warmup == 1 ? "" : "s");
    for (size_t k = 0; k < n_in; k++) {
        printf("  input '%s': %s ", plans[k].info.name, onnxc_dtype_name(plans[k].info.dtype));
        print_shape(&plans[k].info);
        if (plans[k].batch_axis >= 0) printf(", batch in dim %d", plans[k].batch_axis);
        printf("\n");
    }
    printf("%8s %9s %12s %12s %12s %14s\n", "batch", "calls", "median", "min", "p90", "samples/s");
    for (int i = 0; i < n_pts; i++) {
        printf("%8ld %9ld ", pts[i].batch, pts[i].iters);
        print_duration(pts[i].median_us);
        putchar(' ');
        print_duration(pts[i].min_us);
        putchar(' ');
        print_duration(pts[i].p90_us);
        printf(" %14.0f\n", pts[i].samples_per_s);
    }
    if (chk->done && chk->same)
        printf("threads 1 vs %d: outputs bit-identical at every batch size\n", chk->threads);
    else if (chk->done)
        printf("threads 1 vs %d: outputs DIFFER at batch %ld: %s\n", chk->threads, chk->batch, chk->why);
}

static void print_json(const bench_args *a, int threads, const point *pts, int n_pts, const check_result *chk)
{
    printf("{\"model\":");
    json_string(a->model_path);
    printf(",\"threads\":%d,\"warmup\":%ld,\"results\":[", threads, a->warmup);
    for (int i = 0; i < n_pts; i++)
        printf("%s{\"batch\":%ld,\"iters\":%ld,\"median_us\":%.4f,\"min_us\":%.4f,\"p90_us\":%.4f,"
               "\"mean_us\":%.4f,\"samples_per_s\":%.2f}",
               i ? "," : "", pts[i].batch, pts[i].iters, pts[i].median_us, pts[i].min_us, pts[i].p90_us,
               pts[i].mean_us, pts[i].samples_per_s);
    printf("]");
    if (chk->done) {
        printf(",\"check_threads\":{\"threads\":[1,%d],\"identical\":%s", chk->threads, chk->same ? "true" : "false");
        if (!chk->same) {
            printf(",\"batch\":%ld,\"detail\":", chk->batch);
            json_string(chk->why);
        }
        printf("}");
    }
    printf("}\n");
}

/* ------------------------------------------------------------------------ */

int cmd_bench(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    bench_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    onnxc_model *m = NULL;
    if ((rc = cli_load_model(a.model_path, &m))) return rc;
    size_t n_in = onnxc_model_input_count(m), n_out = onnxc_model_output_count(m);
    input_plan *plans = calloc(n_in + 1, sizeof *plans);
    onnxc_tensor *in = calloc(n_in + 1, sizeof *in), *out = calloc(n_out + 1, sizeof *out);
    point *pts = calloc(MAX_BATCHES, sizeof *pts);
    onnxc_session *s = NULL;
    onnxc_error err;
    check_result chk = {0};
    int n_pts = 0, threads = 0;
    if (!plans || !in || !out || !pts) {
        fprintf(stderr, "onnxc: error: out of memory\n");
        rc = EXIT_BAD_INPUT;
        goto done;
    }
    long fixed_batch;
    if ((rc = bench_plan_inputs(a.model_path, m, plans, n_in, &fixed_batch))) goto done;
    if (fixed_batch && !a.n_batches) {
        a.batches[0] = fixed_batch;
        a.n_batches = 1;
    } else if (!a.n_batches) {
        const long defaults[] = {1, 32, 256};
        memcpy(a.batches, defaults, sizeof defaults);
        a.n_batches = 3;
    }
    for (int i = 0; fixed_batch && i < a.n_batches; i++)
        if (a.batches[i] != fixed_batch) {
            fprintf(stderr, "onnxc: error: %s: every input has a fixed shape and the batch (first dim of '%s') is "
                    "%ld; expected --batch %ld, got %ld\n", a.model_path, plans[0].info.name, fixed_batch,
                    fixed_batch, a.batches[i]);
            rc = EXIT_BAD_INPUT;
            goto done;
        }
    onnxc_session_options so = {.threads = (int)a.threads};
    /* Measured as `onnxc run` runs: each weight once, packed (same speed). */
    if (onnxc_model_set_inference_only(m, &err) != ONNXC_OK ||
        onnxc_session_create(m, &so, &s, &err) != ONNXC_OK) {
        rc = cli_report(&err);
        goto done;
    }
    threads = onnxc_session_threads(s);
    chk.threads = threads > 1 ? threads : 2;
    chk.same = true;
    for (int i = 0; i < a.n_batches && !rc; i++) {
        if ((rc = bench_make_inputs(a.model_path, plans, n_in, a.batches[i], in))) break;
        rc = time_point(s, &a, in, n_in, out, n_out, a.batches[i], &pts[n_pts]);
        if (!rc) n_pts++;
        if (!rc && a.check_threads && chk.same) {
            bool same;
            rc = check_threads(m, in, n_in, out, n_out, chk.threads, &same, chk.why, sizeof chk.why);
            chk.done = true;
            if (!rc && !same) {
                chk.same = false;
                chk.batch = a.batches[i];
            }
        }
        bench_free_inputs(in, n_in);
    }
    if (!rc) {
        if (a.json) print_json(&a, threads, pts, n_pts, &chk);
        else print_table(&a, plans, n_in, threads, pts, n_pts, &chk);
        if (chk.done && !chk.same) {
            fprintf(stderr, "onnxc: error: %s: outputs at 1 and %d threads differ at batch %ld: %s\n", a.model_path,
                    chk.threads, chk.batch, chk.why);
            rc = EXIT_BAD_INPUT;
        }
    }
done:
    onnxc_session_free(s);
    if (in) bench_free_inputs(in, n_in);
    free(in);
    free(out);
    free(plans);
    free(pts);
    onnxc_model_free(m);
    return rc;
}
