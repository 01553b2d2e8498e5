/* onnxc run: bind tensor files to inputs, run once, write or print outputs;
 * with --distributed, split the rows over MPI ranks and gather the outputs
 * to rank 0 in order. */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mpi_dist.h"

static const char help[] =
    "usage: onnxc run MODEL [-i [NAME=]FILE]... [-o FILE]... [--threads N] [--distributed]\n"
    "\n"
    "Run MODEL once. Each -i binds a tensor file to the input NAME, or to the\n"
    "next input in graph order when no NAME= is given. Each -o writes the next\n"
    "graph output, in graph-output order; outputs without -o are printed.\n"
    "The extension picks the format: .npy (numpy, versions 1-3) or .pb\n"
    "(serialized TensorProto). --threads sets the kernel threads (default: all).\n"
    "\n"
    "--distributed (under mpirun; onnxc built with -DONNXC_MPI=ON): batch\n"
    "inference split by rows. Every rank reads the input files, runs rows\n"
    "[r*n/N, (r+1)*n/N) of them (n: the inputs' common first dim) and rank 0\n"
    "writes or prints the outputs, their rows in the input's order; each output\n"
    "must have one row per input row. The default --threads is the cores\n"
    "shared among the ranks on each machine.\n";

#define MAX_FILES 64

static void print_tensor(const char *name, const onnxc_tensor *t)
{
    printf("%s: %s [", name, onnxc_dtype_name(t->dtype));
    int64_t n = 1;
    for (int d = 0; d < t->rank; d++) {
        printf("%s%" PRId64, d ? ", " : "", t->dims[d]);
        n *= t->dims[d];
    }
    printf("]\n");
    int64_t shown = n < 64 ? n : 64;
    for (int64_t i = 0; i < shown; i++) {
        switch (t->dtype) {
        case ONNXC_FLOAT: printf("%s%.7g", i ? " " : "  ", ((const float *)t->data)[i]); break;
        case ONNXC_DOUBLE: printf("%s%.15g", i ? " " : "  ", ((const double *)t->data)[i]); break;
        case ONNXC_INT64: printf("%s%" PRId64, i ? " " : "  ", ((const int64_t *)t->data)[i]); break;
        case ONNXC_INT32: printf("%s%" PRId32, i ? " " : "  ", ((const int32_t *)t->data)[i]); break;
        case ONNXC_BOOL: case ONNXC_UINT8:
            printf("%s%u", i ? " " : "  ", ((const uint8_t *)t->data)[i]); break;
        default: printf("%s?", i ? " " : "  "); break;
        }
    }
    printf("%s\n", n > shown ? " ..." : "");
}

/* One invocation: what it loaded, and its failure if any. */
typedef struct run_ctx {
    const char *model_path;
    const char *const *out_files;
    int n_out;                   /* -o given */
    int threads;
    onnxc_model *m;
    size_t n_inputs, n_outputs;
    onnxc_tensor *inputs;        /* [n_inputs] loaded from the files */
    onnxc_tensor *outputs;       /* [n_outputs] session-owned results */
    int *filled;                 /* [n_inputs] */
    onnxc_session *s;
    bool usage;                  /* the failure is a usage error (exit 1) */
    onnxc_error err;
} run_ctx;

__attribute__((format(printf, 4, 5)))
static onnxc_status fail(run_ctx *c, bool usage, onnxc_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err.message, sizeof c->err.message, fmt, ap);
    va_end(ap);
    c->err.status = st;
    c->usage = usage;
    return st;
}

/* Load the model and bind every -i file to an input. */
static onnxc_status prepare(run_ctx *c, const char *const *in_args, int n_in)
{
    if (onnxc_model_load(c->model_path, NULL, &c->m, &c->err) != ONNXC_OK) return c->err.status;
    c->n_inputs = onnxc_model_input_count(c->m);
    c->n_outputs = onnxc_model_output_count(c->m);
    c->inputs = calloc(c->n_inputs + 1, sizeof *c->inputs);
    c->outputs = calloc(c->n_outputs + 1, sizeof *c->outputs);
    c->filled = calloc(c->n_inputs + 1, sizeof *c->filled);
    if (!c->inputs || !c->outputs || !c->filled) return fail(c, false, ONNXC_ERR_NOMEM, "out of memory");
    if ((size_t)c->n_out > c->n_outputs)
        return fail(c, true, ONNXC_ERR_ARGUMENT, "%d -o given, the model has %zu outputs", c->n_out, c->n_outputs);
    size_t next = 0;
    for (int i = 0; i < n_in; i++) {
        const char *arg = in_args[i], *file = arg;
        size_t slot = SIZE_MAX;
        const char *eq = strchr(arg, '=');
        if (eq) {
            for (size_t k = 0; k < c->n_inputs; k++) {
                onnxc_value_info vi;
                onnxc_model_input(c->m, k, &vi);
                if (strlen(vi.name) == (size_t)(eq - arg) && !strncmp(vi.name, arg, (size_t)(eq - arg))) {
                    slot = k;
                    file = eq + 1;
                }
            }
        }
        if (slot == SIZE_MAX) {
            while (next < c->n_inputs && c->filled[next]) next++;
            slot = next;
        }
        if (slot >= c->n_inputs)
            return fail(c, true, ONNXC_ERR_ARGUMENT, "too many inputs: the model takes %zu", c->n_inputs);
        if (c->filled[slot]) {
            onnxc_value_info vi;
            onnxc_model_input(c->m, slot, &vi);
            return fail(c, true, ONNXC_ERR_ARGUMENT, "input '%s' is given twice", vi.name);
        }
        if (onnxc_tensor_load(file, &c->inputs[slot], &c->err) != ONNXC_OK) return c->err.status;
        c->filled[slot] = 1;
    }
    for (size_t k = 0; k < c->n_inputs; k++)
        if (!c->filled[k]) {
            onnxc_value_info vi;
            onnxc_model_input(c->m, k, &vi);
            return fail(c, false, ONNXC_ERR_IO, "%s: input '%s' is missing; pass -i %s=FILE", c->model_path, vi.name,
                        vi.name);
        }
    return ONNXC_OK;
}

/* Run on `inputs` (the files' tensors, or this rank's rows of them). */
static onnxc_status run_model(run_ctx *c, const onnxc_tensor *inputs)
{
    onnxc_session_options so = {.threads = c->threads};
    /* run never saves or trains: keep each weight once, packed. */
    if (onnxc_model_set_inference_only(c->m, &c->err) != ONNXC_OK ||
        onnxc_session_create(c->m, &so, &c->s, &c->err) != ONNXC_OK)
        return c->err.status;
    return onnxc_session_run(c->s, inputs, c->n_inputs, c->outputs, c->n_outputs, &c->err);
}

/* Output k to its -o file, or printed. */
static onnxc_status emit(run_ctx *c, size_t k, const onnxc_tensor *t)
{
    if ((int)k < c->n_out) return onnxc_tensor_save(c->out_files[k], t, &c->err);
    onnxc_value_info vi;
    onnxc_model_output(c->m, k, &vi);
    print_tensor(vi.name, t);
    return ONNXC_OK;
}

static int report(const run_ctx *c)
{
    if (c->usage) return cli_usage_error("run", "%s", c->err.message);
    return cli_report(&c->err);
}

static int run_single(run_ctx *c)
{
    if (run_model(c, c->inputs) != ONNXC_OK) return report(c);
    for (size_t k = 0; k < c->n_outputs; k++)
        if (emit(c, k, &c->outputs[k]) != ONNXC_OK) return report(c);
    return EXIT_OK;
}

/* ---- --distributed ---------------------------------------------------------- */

/* Bytes of one element; 0 for types that are not fixed-size (strings, 4-bit). */
static size_t elem_bytes(onnxc_dtype t)
{
    switch (t) {
    case ONNXC_BOOL: case ONNXC_UINT8: case ONNXC_INT8: case ONNXC_FLOAT8E4M3FN: case ONNXC_FLOAT8E4M3FNUZ:
    case ONNXC_FLOAT8E5M2: case ONNXC_FLOAT8E5M2FNUZ: return 1;
    case ONNXC_UINT16: case ONNXC_INT16: case ONNXC_FLOAT16: case ONNXC_BFLOAT16: return 2;
    case ONNXC_FLOAT: case ONNXC_INT32: case ONNXC_UINT32: return 4;
    case ONNXC_DOUBLE: case ONNXC_INT64: case ONNXC_UINT64: case ONNXC_COMPLEX64: return 8;
    case ONNXC_COMPLEX128: return 16;
    default: return 0;
    }
}

/* Bytes of one row (everything after dim 0); 0 when it cannot be split. */
static size_t row_bytes(onnxc_dtype dtype, int rank, const int64_t *dims)
{
    size_t b = elem_bytes(dtype);
    for (int d = 1; d < rank; d++) b *= (size_t)dims[d];
    return rank >= 1 ? b : 0;
}

/* This rank's rows [lo, hi) of every input, as views into the loaded files. */
static onnxc_status shard_inputs(run_ctx *c, int rank, int world, onnxc_tensor *shard, size_t *lo, size_t *hi)
{
    int64_t n = c->n_inputs ? c->inputs[0].dims[0] : 0;
    for (size_t k = 0; k < c->n_inputs; k++) {
        const onnxc_tensor *t = &c->inputs[k];
        onnxc_value_info vi;
        onnxc_model_input(c->m, k, &vi);
        if (t->rank < 1 || t->dims[0] != n || !elem_bytes(t->dtype))
            return fail(c, false, ONNXC_ERR_SHAPE,
                        "input '%s': --distributed splits every input by rows, so each needs the same first dim "
                        "(%" PRId64 ") and a fixed-size type; got %s with %d dims%s", vi.name, n,
                        onnxc_dtype_name(t->dtype), t->rank,
                        t->rank >= 1 && t->dims[0] != n ? " and another first dim" : "");
    }
    if (c->n_inputs == 0 || n == 0)
        return fail(c, false, ONNXC_ERR_SHAPE, "%s: --distributed needs inputs with at least one row", c->model_path);
    *lo = (size_t)((unsigned __int128)n * (unsigned)rank / (unsigned)world);
    *hi = (size_t)((unsigned __int128)n * (unsigned)(rank + 1) / (unsigned)world);
    for (size_t k = 0; k < c->n_inputs; k++) {
        shard[k] = c->inputs[k];
        shard[k].dims[0] = (int64_t)(*hi - *lo);
        shard[k].data = (char *)c->inputs[k].data + *lo * row_bytes(shard[k].dtype, shard[k].rank, shard[k].dims);
    }
    return ONNXC_OK;
}

/* What each rank says about its part of one output. */
typedef struct out_header {
    int32_t dtype;
    int32_t rank;                /* -1: this rank had no rows */
    int64_t dims[ONNXC_MAX_RANK];
    int64_t rows;                /* input rows this rank ran */
} out_header;

/* Every rank sees every header, so all take the same decision. */
static onnxc_status check_headers(run_ctx *c, size_t k, const out_header *h, int world, const out_header **first)
{
    onnxc_value_info vi;
    onnxc_model_output(c->m, k, &vi);
    *first = NULL;
    for (int r = 0; r < world; r++) {
        if (h[r].rank < 0) continue;
        if (h[r].rank < 1 || h[r].dims[0] != h[r].rows)
            return fail(c, false, ONNXC_ERR_SHAPE,
                        "output '%s' has %" PRId64 " rows for %" PRId64 " input rows on rank %d: --distributed needs "
                        "outputs with one row per input row", vi.name, h[r].rank >= 1 ? h[r].dims[0] : 0, h[r].rows, r);
        if (!elem_bytes((onnxc_dtype)h[r].dtype))
            return fail(c, false, ONNXC_ERR_UNSUPPORTED, "output '%s': cannot gather %s rows", vi.name,
                        onnxc_dtype_name((onnxc_dtype)h[r].dtype));
        if (!*first) {
            *first = &h[r];
            continue;
        }
        bool same = h[r].dtype == (*first)->dtype && h[r].rank == (*first)->rank;
        for (int d = 1; same && d < h[r].rank; d++) same = h[r].dims[d] == (*first)->dims[d];
        if (!same)
            return fail(c, false, ONNXC_ERR_SHAPE, "output '%s' has another type or row shape on rank %d than on "
                        "rank %d", vi.name, r, (int)(*first - h));
    }
    return ONNXC_OK;
}

/* Gather output k to rank 0 and write or print it there. all [size] and
 * counts [size] are scratch. */
static onnxc_status gather_output(run_ctx *c, cli_mpi *mpi, size_t k, size_t rows, out_header *all, size_t *counts)
{
    const onnxc_tensor *mine = &c->outputs[k];
    out_header me = {.dtype = (int32_t)mine->dtype, .rank = rows ? mine->rank : -1, .rows = (int64_t)rows};
    memcpy(me.dims, mine->dims, sizeof me.dims);
    cli_mpi_allgather(mpi, &me, sizeof me, all);
    const out_header *first;
    onnxc_status st = check_headers(c, k, all, mpi->size, &first);
    onnxc_tensor out = {0};
    size_t rb = 0, total = 0;
    if (st == ONNXC_OK) {
        rb = row_bytes((onnxc_dtype)first->dtype, first->rank, first->dims);
        for (int r = 0; r < mpi->size; r++) total += counts[r] = (size_t)all[r].rows;
        out = (onnxc_tensor){.dtype = (onnxc_dtype)first->dtype, .rank = first->rank};
        memcpy(out.dims, first->dims, sizeof out.dims);
        out.dims[0] = (int64_t)total;
        if (mpi->rank == 0 && !(out.data = malloc(total * rb + 1)))
            st = fail(c, false, ONNXC_ERR_NOMEM, "out of memory for %zu rows of output %zu", total, k);
        /* Rank 0 must be able to take the rows before anyone sends. */
        st = cli_mpi_agree(mpi, st, &c->err);
    }
    if (st == ONNXC_OK) {
        cli_mpi_gather_rows(mpi, rows ? mine->data : NULL, counts, rb, out.data);
        if (mpi->rank == 0) st = emit(c, k, &out);
        st = cli_mpi_agree(mpi, st, &c->err);
    }
    free(out.data);
    return st;
}

static int run_sharded(run_ctx *c, cli_mpi *mpi, onnxc_status st)
{
    onnxc_tensor *shard = calloc(c->n_inputs + 1, sizeof *shard);
    out_header *all = calloc((size_t)mpi->size, sizeof *all);
    size_t *counts = calloc((size_t)mpi->size, sizeof *counts);
    size_t lo = 0, hi = 0;
    if (st == ONNXC_OK && (!shard || !all || !counts)) st = fail(c, false, ONNXC_ERR_NOMEM, "out of memory");
    if (st == ONNXC_OK) st = shard_inputs(c, mpi->rank, mpi->size, shard, &lo, &hi);
    if (st == ONNXC_OK && hi > lo) st = run_model(c, shard);
    st = cli_mpi_agree(mpi, st, &c->err);
    for (size_t k = 0; st == ONNXC_OK && k < c->n_outputs; k++) st = gather_output(c, mpi, k, hi - lo, all, counts);
    free(shard);
    free(all);
    free(counts);
    if (st == ONNXC_OK) return EXIT_OK;
    /* Agreed: the same failure on every rank; rank 0 tells it. */
    if (mpi->rank == 0) return cli_report(&c->err);
    return st == ONNXC_ERR_ARGUMENT ? EXIT_USAGE : EXIT_BAD_INPUT;
}

int cmd_run(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    enum { OPT_DISTRIBUTED = 0x100 };
    static const struct option opts[] = {
        {"input", required_argument, 0, 'i'},
        {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 't'},
        {"distributed", no_argument, 0, OPT_DISTRIBUTED},
        {0, 0, 0, 0},
    };
    const char *in_args[MAX_FILES], *out_files[MAX_FILES];
    int n_in = 0, n_out = 0;
    long threads = 0;
    bool distributed = false;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "i:o:", opts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            if (n_in == MAX_FILES) return cli_usage_error("run", "too many -i (max %d)", MAX_FILES);
            in_args[n_in++] = optarg;
            break;
        case 'o':
            if (n_out == MAX_FILES) return cli_usage_error("run", "too many -o (max %d)", MAX_FILES);
            out_files[n_out++] = optarg;
            break;
        case 't':
            if (!cli_parse_int(optarg, 1, 4096, &threads))
                return cli_usage_error("run", "--threads expects 1..4096, got '%s'", optarg);
            break;
        case OPT_DISTRIBUTED: distributed = true; break;
        default: return cli_usage_error("run", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage_error("run", "expected one MODEL argument");
    cli_mpi mpi = {0};
    int rc;
    if (distributed) {
        if ((rc = cli_mpi_begin(&mpi, "run"))) return rc;
        if (!threads) threads = cli_mpi_default_threads(&mpi);
    }
    run_ctx c = {.model_path = argv[optind], .out_files = out_files, .n_out = n_out, .threads = (int)threads};
    onnxc_status st = prepare(&c, in_args, n_in);
    if (distributed) rc = run_sharded(&c, &mpi, st);
    else rc = st != ONNXC_OK ? report(&c) : run_single(&c);
    onnxc_session_free(c.s);
    if (c.inputs)
        for (size_t k = 0; k < c.n_inputs; k++) onnxc_tensor_release(&c.inputs[k]);
    free(c.inputs);
    free(c.outputs);
    free(c.filled);
    onnxc_model_free(c.m);
    cli_mpi_end(&mpi);
    return rc;
}
