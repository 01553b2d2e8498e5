/*
 * MPI for `onnxc train --distributed` and `onnxc run --distributed`: one
 * process per rank over MPI_COMM_WORLD, started by mpirun.
 *
 *     mpirun -np 4 onnxc train model.onnx --data DIR -o out.onnx --distributed
 *
 * The library never links MPI: this file implements its onnxc_distributed
 * callbacks (MPI_Iallreduce / MPI_Test / MPI_Wait for the gradient buckets,
 * MPI_Allreduce for metrics and checks, MPI_Allreduce(MIN) + MPI_Bcast to
 * agree on a failure), plus the row gather `onnxc run` needs. Only the CLI
 * built with -DONNXC_MPI=ON has them; in other builds cli_mpi_available()
 * is false and the rest is never called.
 *
 * MPI is initialised with MPI_THREAD_FUNNELED: only the main thread calls
 * MPI (the kernels' OpenMP threads never do). Errors inside MPI keep MPI's
 * default handler, MPI_ERRORS_ARE_FATAL: MPI prints the error and mpirun
 * stops every rank, which is the only safe outcome when the transport itself
 * breaks. Everything else is agreed on with cli_mpi_agree so that all ranks
 * stop together with one message.
 *
 * ONNXC_MPI_BUCKET_KB (environment) sets the gradient bucket size in KiB
 * ("all": one sum of the whole gradient after backward); unset: the
 * library's default. mpirun passes the environment to local ranks; on
 * several machines export it with `mpirun -x ONNXC_MPI_BUCKET_KB`.
 */
#ifndef ONNXC_CLI_MPI_DIST_H
#define ONNXC_CLI_MPI_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include "onnxc.h"

typedef struct cli_mpi {
    int rank, size;              /* in MPI_COMM_WORLD */
    int local_size;              /* ranks on this machine */
    onnxc_distributed dist;      /* callbacks for onnxc_trainer_set_distributed */
    bool started;                /* MPI_Init done here: cli_mpi_end finalizes */
} cli_mpi;

/* Was this CLI built with MPI? */
bool cli_mpi_available(void);

/* MPI_Init_thread and fill *m. Returns 0, or the exit code after one line
 * on stderr (no MPI support, a bad ONNXC_MPI_BUCKET_KB). */
int cli_mpi_begin(cli_mpi *m, const char *cmd);

/* MPI_Finalize (when cli_mpi_begin started MPI). */
void cli_mpi_end(cli_mpi *m);

/* Kernel threads per rank when the user gave none: the machine's cores
 * shared among the ranks on it (0: the library default, all cores, when
 * there is one rank per machine or OMP_NUM_THREADS is set). */
int cli_mpi_default_threads(const cli_mpi *m);

/* Agree on an outcome (see onnxc_distributed.agree): returns ONNXC_OK on
 * every rank when `st` is ONNXC_OK everywhere, else, in err on every rank,
 * the lowest failing rank's status and message, prefixed "rank R: ". */
onnxc_status cli_mpi_agree(cli_mpi *m, onnxc_status st, onnxc_error *err);

/* Every rank's `bytes` bytes at `mine`, in rank order, into all [size * bytes]. */
void cli_mpi_allgather(cli_mpi *m, const void *mine, size_t bytes, void *all);

/*
 * Rows to rank 0, in rank order: rank r sends counts[r] rows of row_bytes
 * bytes from `data` (counts [size] known to every rank); rank 0 receives
 * sum(counts) rows into `out`. Other ranks pass out = NULL.
 */
void cli_mpi_gather_rows(cli_mpi *m, const void *data, const size_t *counts, size_t row_bytes, void *out);

#endif
