/*
 * Several threads are not always faster than one. A small layer's op costs
 * less than a parallel region, and on a shared machine another core may be
 * busy with other work: on this project's 2-vCPU VMs, two-thread epochs of
 * the seed model were 1.3x faster than one thread in one hour and 0.88x in
 * the next (batch 128, shards), and 0.70x at batch 32 (every op split).
 *
 * Results never depend on the thread count, so a trainer may run any step
 * either way. It times them per batch shape and runs the fastest:
 * OC_WAY_PARALLEL (two shards with two threads, shards.h, else every op on
 * all threads), OC_WAY_ONE_THREAD (the whole step on the calling thread),
 * and where the plan allows it OC_WAY_COLUMNS (a layer's columns split over
 * two threads, column_split.h). Which one wins depends on the machine
 * (bench/train_ways times each, forced; RESULTS_TRAIN.md). For the seed
 * model at batch 128: on a Zen 5 VM (2 x 512-bit FMA a cycle), columns
 * 145 us a step, shards 159, one thread 169 (before the first layer skipped
 * zero pixels, kernels/sgemm_sparse.h); on a Zen 4 VM (half the FMA
 * throughput, so arithmetic outweighs moving lines between cores), shards
 * 131, columns 186, one thread 234 (medians with the skipping,
 * RESULTS_TRAIN.md as of cffbbc3; 180, 268, 316 in a77f511's run on a
 * busier VM; before the skipping shards ~200-230, columns ~210-250, one
 * thread ~315). At batch 256 shards won on both; at 32, one thread and
 * columns were about even.
 *
 * Schedule: a first window of OC_TUNE_EARLY steps each way (parallel
 * first, the others as probes, below), then the fastest in windows of
 * OC_TUNE_WINDOW steps, re-timing another way (in turn) for one window after
 * every OC_TUNE_PROBE windows, so a change of load is noticed. A way's cost
 * is its last window's median step, so that a first step that builds plans
 * does not decide, plus what its steps lose waiting: the mean of a window
 * (its first step left out) over its median, averaged over that way's
 * windows. With a busy process on the second core, two-thread steps take
 * their usual time until the second thread is descheduled, and then one
 * waits milliseconds: the median step stays ~220 us where the mean is
 * ~650-770 (seed model, batch 128, Zen 4 VM; one thread ~340), and the
 * median alone kept such a trainer on two threads at half the speed of one
 * (a spinning process pinned to the second vCPU, the trainer's steps timed
 * as it chose them: mean step ~590 us with this cost, ~860 with the median
 * alone).
 *
 * Waits can be far longer: with the process spinning there, two-thread
 * steps of the seed model took 7-25 ms now and then (p90 15 ms; Zen 4 VM,
 * batch 128; one thread: ~300 us). So any window also ends as soon as its
 * steps but the first have cost OC_TUNE_STALL_BUDGET times what the whole
 * window (a probe: its first OC_TUNE_EARLY steps) would at the fastest
 * other way's cost: such a probe costs two steps, not a window, and a way
 * that starts waiting so is left at its first such step. And a re-probe
 * that loses clearly on its own steps (not only to the stalls of its way's
 * earlier windows) doubles the windows until that way's next (up to
 * OC_TUNE_PROBE << OC_TUNE_BACKOFF_MAX, ~1 s of one-thread steps there);
 * one that wins brings them back to OC_TUNE_PROBE. Per way: one thread
 * losing clearly to shards on a free machine does not space out the probes
 * of shards, and a burst of load that has passed (its stall figure halving
 * at each probe) does not either. With these (and the gathers and
 * evaluation following the steps' thread count, trainer.h), such a
 * trainer's first two epochs took 0.122 and 0.118 s against 0.118 and
 * 0.116 on one thread, where they had taken 0.128 and 0.131 (medians of 5
 * runs, bench/RESULTS_BUSY_CORE.md; single runs up to 0.32); what remains
 * is mostly the first round's two-thread steps and the probes.
 *
 * A probe costs time where the way it times is slow, so one whose fastest
 * of its first OC_TUNE_EARLY steps, plus the way's known loss to stalls, is
 * OC_TUNE_CLEAR_LOSS times the fastest other way's cost or more ends there
 * (its figures still taken from those steps, so a loss to stalls that has
 * passed fades over a few probes). On this project's Zen 4 VMs a one-thread
 * step at batch 128 takes ~100 us longer than shards: 16 of them were ~2%
 * of an epoch (and starting with a window of columns instead of shards, as
 * this tuner once did, ~2% of a first epoch on two threads). And the way
 * running is re-timed every window: when its cost grows past another way's
 * last one (the other core got busy), that way is probed at once rather
 * than in its turn.
 */
#ifndef OC_TRAIN_THREAD_TUNER_H
#define OC_TRAIN_THREAD_TUNER_H

#include <stdbool.h>

#define OC_TUNE_WINDOW 16
#define OC_TUNE_PROBE 15
#define OC_TUNE_EARLY 4
#define OC_TUNE_CLEAR_LOSS 1.25
#define OC_TUNE_STALL_BUDGET 2.0
#define OC_TUNE_BACKOFF_MAX 4

typedef enum oc_way {
    OC_WAY_PARALLEL = 0,
    OC_WAY_ONE_THREAD = 1,
    OC_WAY_COLUMNS = 2,
    OC_WAYS = 3
} oc_way;

/* Zeroed: no measurements yet, the ways PARALLEL and ONE_THREAD, parallel
 * first. */
typedef struct oc_thread_tuner {
    oc_way way;                  /* the way the next step runs */
    unsigned ways;               /* bit (1 << way) of each way it may run; 0: PARALLEL and ONE_THREAD */
    double median[OC_WAYS];      /* median step of each way's last window, seconds; 0: not timed */
    double stall[OC_WAYS];       /* each way's mean step over its median, averaged over its windows */
    double window[OC_TUNE_WINDOW]; /* this window's step times so far */
    int window_steps;
    int windows;                 /* windows the fastest way ran since the last probe */
    int since[OC_WAYS];          /* windows the fastest way ran since each way was last timed */
    bool probing;                /* this window times a way not chosen */
    oc_way probed;               /* the last way probed (the next probe is the one after it) */
    bool reprobe;                /* the probe running times a way that had a figure already */
    int backoff[OC_WAYS];        /* each way's re-probes lost on their own steps in a row (up to
                                    OC_TUNE_BACKOFF_MAX): it is probed OC_TUNE_PROBE << backoff
                                    windows after it was last timed, at the earliest */
} oc_thread_tuner;

/* A tuner with no measurements for the ways in the mask `ways` (see
 * oc_thread_tuner.ways), starting with `first` when it has it (tests pick
 * the way a trainer's first steps take), else with the first of PARALLEL,
 * COLUMNS, ONE_THREAD it has. */
oc_thread_tuner oc_thread_tuner_new(unsigned ways, oc_way first);

/* One step run t->way took `seconds`; may change t->way for the next. */
void oc_thread_tuner_record(oc_thread_tuner *t, double seconds);

#endif
