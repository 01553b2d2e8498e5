/*
 * Time MPI_Allreduce(MPI_SUM) of float buffers, as the trainer's gradient
 * sum does, to measure the latency L and bandwidth B of a transport for
 * docs/distributed.md. Not part of the build:
 *
 *     mpicc -O2 tests/distributed/allreduce_bench.c -o allreduce_bench
 *     mpirun -np 2 ./allreduce_bench 1 55050 20037642
 *
 * Each argument is a count of floats; for each, rank 0 prints the median
 * and minimum time of `reps` in-place allreduces (after warm-up), and the
 * bus bandwidth 2 (N-1)/N * 4 count / t that the ring model predicts.
 * Like onnxc (cli/mpi_dist.c), it keeps large freed blocks in the malloc
 * heap, so MPI's per-call scratch buffers are not faulted in anew each time;
 * ONNXC_BENCH_MMAP=1 leaves glibc's default, to see the difference.
 */
#include <malloc.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (!getenv("ONNXC_BENCH_MMAP")) {
        mallopt(M_MMAP_THRESHOLD, 1 << 30);
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
    }
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int a = 1; a < argc; a++) {
        long count = atol(argv[a]);
        int reps = count < 100000 ? 2000 : count < 5000000 ? 200 : 20;
        float *x = malloc((size_t)count * sizeof *x + 4);
        double *t = malloc((size_t)reps * sizeof *t);
        for (long i = 0; i < count; i++) x[i] = 1e-3f * (float)(i % 1000);
        for (int w = 0; w < 3; w++) MPI_Allreduce(MPI_IN_PLACE, x, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        for (int r = 0; r < reps; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, x, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            t[r] = MPI_Wtime() - t0;
        }
        /* The slowest rank's time is the collective's. */
        MPI_Allreduce(MPI_IN_PLACE, t, reps, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        qsort(t, (size_t)reps, sizeof *t, cmp);
        double med = t[reps / 2];
        if (rank == 0)
            printf("np %d  %10ld floats (%9.3f MB): median %10.1f us  min %10.1f us  bus %6.2f GB/s\n", size, count,
                   count * 4e-6, med * 1e6, t[0] * 1e6, 2.0 * (size - 1) / size * 4.0 * count / med * 1e-9);
        free(x);
        free(t);
    }
    MPI_Finalize();
    return 0;
}
