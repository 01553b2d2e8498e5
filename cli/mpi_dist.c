/* The onnxc_distributed callbacks over MPI (see mpi_dist.h). */
#include "mpi_dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifdef ONNXC_MPI

#include <malloc.h>
#include <stdint.h>
#include <unistd.h>

#include <mpi.h>

/* MPI counts are ints: larger buffers go in pieces of this many elements. */
#define PIECE ((size_t)1 << 30)

bool cli_mpi_available(void) { return true; }

/* One gradient bucket in flight: one request per piece. */
typedef struct mpi_sum {
    int n;
    MPI_Request req[];
} mpi_sum;

static onnxc_status sum_start(void *user, float *data, size_t count, void **handle, onnxc_error *err)
{
    (void)user;
    size_t pieces = count ? (count + PIECE - 1) / PIECE : 1;
    mpi_sum *s = malloc(sizeof *s + pieces * sizeof s->req[0]);
    if (!s) {
        err->status = ONNXC_ERR_NOMEM;
        snprintf(err->message, sizeof err->message, "out of memory starting an allreduce");
        return ONNXC_ERR_NOMEM;
    }
    s->n = (int)pieces;
    for (size_t p = 0; p < pieces; p++) {
        size_t len = count - p * PIECE < PIECE ? count - p * PIECE : PIECE;
        MPI_Iallreduce(MPI_IN_PLACE, data + p * PIECE, (int)len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &s->req[p]);
    }
    *handle = s;
    return ONNXC_OK;
}

static onnxc_status sum_wait(void *user, void *handle, onnxc_error *err)
{
    (void)user, (void)err;
    mpi_sum *s = handle;
    MPI_Waitall(s->n, s->req, MPI_STATUSES_IGNORE);
    free(s);
    return ONNXC_OK;
}

/* Open MPI moves a non-blocking collective forward only inside MPI calls:
 * testing it between backward steps is what makes the sum overlap them. */
static void sum_poll(void *user, void *handle)
{
    (void)user;
    mpi_sum *s = handle;
    int done;
    MPI_Testall(s->n, s->req, &done, MPI_STATUSES_IGNORE);
}

static onnxc_status sum_doubles(void *user, double *data, size_t count, onnxc_error *err)
{
    (void)user, (void)err;
    for (size_t p = 0; p < count; p += PIECE) {
        size_t len = count - p < PIECE ? count - p : PIECE;
        MPI_Allreduce(MPI_IN_PLACE, data + p, (int)len, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    }
    return ONNXC_OK;
}

/* The lowest failing rank (MIN over "my rank if I failed, else size"), then
 * its status and message broadcast from it; one int allreduce when all is well. */
static onnxc_status agree(void *user, onnxc_error *outcome)
{
    const cli_mpi *m = user;
    int mine = outcome->status != ONNXC_OK ? m->rank : m->size, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == m->size) {
        outcome->status = ONNXC_OK;
        return ONNXC_OK;
    }
    int status = (int)outcome->status;
    MPI_Bcast(&status, 1, MPI_INT, first, MPI_COMM_WORLD);
    MPI_Bcast(outcome->message, (int)sizeof outcome->message, MPI_CHAR, first, MPI_COMM_WORLD);
    outcome->status = (onnxc_status)status;
    outcome->message[sizeof outcome->message - 1] = '\0';
    return ONNXC_OK;
}

/* ONNXC_MPI_BUCKET_KB: unset (library default), "all", or KiB >= 1. */
static bool bucket_bytes(size_t *out)
{
    const char *s = getenv("ONNXC_MPI_BUCKET_KB");
    *out = 0;
    if (!s) return true;
    if (!strcmp(s, "all")) {
        *out = SIZE_MAX;
        return true;
    }
    long kb;
    if (!cli_parse_int(s, 1, 1L << 30, &kb)) return false;
    *out = (size_t)kb << 10;
    return true;
}

int cli_mpi_begin(cli_mpi *m, const char *cmd)
{
    memset(m, 0, sizeof *m);
    size_t bucket;
    if (!bucket_bytes(&bucket))
        return cli_usage_error(cmd, "ONNXC_MPI_BUCKET_KB expects 'all' or an integer 1..2^30, got '%s'",
                               getenv("ONNXC_MPI_BUCKET_KB"));
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD)
    /* Open MPI's allreduce mallocs a scratch buffer as large as the message
     * on every call. glibc serves anything above 128 KiB-32 MiB with a fresh
     * mmap and unmaps it on free, so each sum of an 80 MB gradient faulted
     * in 20k new pages: 1.1 s instead of 0.11 s (median, 2 ranks) on the
     * test VM. Keep big blocks in the heap for reuse instead. */
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "onnxc: error: MPI_Init_thread failed\n");
        return EXIT_BAD_INPUT;
    }
    m->started = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m->size);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &m->local_size);
    MPI_Comm_free(&local);
    m->dist = (onnxc_distributed){
        .rank = m->rank, .world_size = m->size, .user = m, .bucket_bytes = bucket,
        .allreduce_start = sum_start, .allreduce_wait = sum_wait, .allreduce_poll = sum_poll,
        .allreduce_doubles = sum_doubles, .agree = agree,
    };
    return EXIT_OK;
}

void cli_mpi_end(cli_mpi *m)
{
    if (m->started) MPI_Finalize();
    m->started = false;
}

int cli_mpi_default_threads(const cli_mpi *m)
{
    if (m->local_size <= 1 || getenv("OMP_NUM_THREADS")) return 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long per = cores / m->local_size;
    return per >= 1 ? (int)per : 1;
}

void cli_mpi_allgather(cli_mpi *m, const void *mine, size_t bytes, void *all)
{
    (void)m;
    MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
}

void cli_mpi_gather_rows(cli_mpi *m, const void *data, const size_t *counts, size_t row_bytes, void *out)
{
    /* Point to point, in pieces below 2^30 bytes, so any size works. */
    if (m->rank != 0) {
        size_t bytes = counts[m->rank] * row_bytes;
        for (size_t p = 0; p < bytes; p += PIECE)
            MPI_Send((const char *)data + p, (int)(bytes - p < PIECE ? bytes - p : PIECE), MPI_BYTE, 0, 0,
                     MPI_COMM_WORLD);
        return;
    }
    char *at = out;
    for (int r = 0; r < m->size; r++) {
        size_t bytes = counts[r] * row_bytes;
        if (r == 0) memcpy(at, data, bytes);
        else
            for (size_t p = 0; p < bytes; p += PIECE)
                MPI_Recv(at + p, (int)(bytes - p < PIECE ? bytes - p : PIECE), MPI_BYTE, r, 0, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE);
        at += bytes;
    }
}

#else /* no MPI in this build */

bool cli_mpi_available(void) { return false; }

int cli_mpi_begin(cli_mpi *m, const char *cmd)
{
    memset(m, 0, sizeof *m);
    return cli_usage_error(cmd, "--distributed needs onnxc built with MPI (cmake -DONNXC_MPI=ON); this build has none");
}

void cli_mpi_end(cli_mpi *m) { (void)m; }
int cli_mpi_default_threads(const cli_mpi *m) { (void)m; return 0; }
void cli_mpi_allgather(cli_mpi *m, const void *mine, size_t bytes, void *all)
{
    (void)m;
    memcpy(all, mine, bytes);
}

void cli_mpi_gather_rows(cli_mpi *m, const void *data, const size_t *counts, size_t row_bytes, void *out)
{
    (void)m;
    if (out) memcpy(out, data, counts[0] * row_bytes);
}

#endif

onnxc_status cli_mpi_agree(cli_mpi *m, onnxc_status st, onnxc_error *err)
{
    onnxc_error out = {.status = st};
    if (st != ONNXC_OK) {
        snprintf(out.message, sizeof out.message, "rank %d: %.8150s", m->rank,
                 err->message[0] ? err->message : onnxc_status_name(st));
    }
    if (!m->dist.agree) return st; /* no MPI: one process */
    m->dist.agree(m->dist.user, &out);
    if (out.status != ONNXC_OK) *err = out;
    return out.status;
}
