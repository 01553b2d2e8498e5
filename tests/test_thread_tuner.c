/*
 * The thread tuner's schedule (runtime/train/thread_tuner.c), on step times
 * it is told: a short window each way, then the fastest, a probe of another
 * way after OC_TUNE_PROBE windows (more after probes that lost), a switch
 * when it became faster, and a window's median deciding (one slow first
 * step does not), plus what the way's steps lose to stalls (steps that wait
 * now and then do count). Probes of a way that clearly loses stop after
 * OC_TUNE_EARLY steps; any window stops once it has cost more than it could
 * win back; the way running growing slower than another way's last figure
 * has that one probed at once.
 */
#include <criterion/criterion.h>

#include "thread_tuner.h"

/* `steps` steps of `seconds`, the first of them an outlier of a second. */
static void feed(oc_thread_tuner *t, double seconds, int steps)
{
    for (int i = 0; i < steps; i++) oc_thread_tuner_record(t, i == 0 ? 1.0 : seconds); /* step 0: an outlier */
}

/* Steps of way `way` taking `seconds` and of every other way `others`,
 * `steps` of them; returns how many ran on `way`. */
static int run(oc_thread_tuner *t, oc_way way, double seconds, double others, int steps)
{
    int on_way = 0;
    for (int i = 0; i < steps; i++) {
        on_way += t->way == way;
        oc_thread_tuner_record(t, t->way == way ? seconds : others);
    }
    return on_way;
}

static const unsigned three_ways = (1u << OC_WAY_PARALLEL) | (1u << OC_WAY_ONE_THREAD) | (1u << OC_WAY_COLUMNS);

Test(thread_tuner, runs_the_faster_way_and_probes_the_other)
{
    oc_thread_tuner t = {0};
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "in parallel first");
    feed(&t, 100e-6, OC_TUNE_EARLY);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD, "then a first short window on one thread");
    feed(&t, 110e-6, OC_TUNE_EARLY);
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "in parallel was faster (100 vs 110 us)");
    for (int w = 0; w < OC_TUNE_PROBE - 1; w++) {
        feed(&t, 100e-6, OC_TUNE_WINDOW);
        cr_assert_eq(t.way, OC_WAY_PARALLEL, "window %d: still in parallel", w);
    }
    feed(&t, 100e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD, "after %d windows, a probe of one thread", OC_TUNE_PROBE);
    feed(&t, 90e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD, "one thread is now faster (90 vs 100 us)");
    cr_assert_eq(t.window_steps, 0);
}

Test(thread_tuner, three_ways_each_timed_then_the_fastest_and_each_other_probed_in_turn)
{
    oc_thread_tuner t = oc_thread_tuner_new(three_ways, OC_WAY_PARALLEL);
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "in parallel first");
    feed(&t, 100e-6, OC_TUNE_EARLY);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD);
    feed(&t, 115e-6, OC_TUNE_EARLY);
    cr_assert_eq(t.way, OC_WAY_COLUMNS);
    feed(&t, 120e-6, OC_TUNE_EARLY);
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "the fastest of 100, 115, 120 us");
    for (int w = 0; w < OC_TUNE_PROBE; w++) feed(&t, 100e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD, "the first probe: the next way after the last timed (columns)");
    feed(&t, 90e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD, "one thread is now the fastest (90 vs 100 us)");
    for (int w = 0; w < OC_TUNE_PROBE; w++) feed(&t, 90e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_COLUMNS, "the next probe: the way after one thread");
    feed(&t, 95e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD);
    cr_assert_eq(t.backoff[OC_WAY_COLUMNS], 0, "lost narrowly over a whole window: probed as often");
    for (int w = 0; w < OC_TUNE_PROBE; w++) feed(&t, 90e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "then parallel");
}

/* A tuner past its first round, in parallel at 100 us a step (one thread
 * lost its first window at 300 us), at the start of a re-probe of one
 * thread. */
static oc_thread_tuner reprobing_one_thread(void)
{
    oc_thread_tuner t = {0};
    feed(&t, 100e-6, OC_TUNE_EARLY);
    feed(&t, 300e-6, OC_TUNE_EARLY);
    for (int w = 0; w < OC_TUNE_PROBE; w++) feed(&t, 100e-6, OC_TUNE_WINDOW);
    cr_assert(t.way == OC_WAY_ONE_THREAD && t.probing && t.window_steps == 0);
    return t;
}

Test(thread_tuner, a_probe_that_clearly_loses_stops_after_its_first_steps)
{
    oc_thread_tuner t = {0};
    feed(&t, 100e-6, OC_TUNE_EARLY);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD);
    /* The outlier first, then twice as slow: over after OC_TUNE_EARLY steps. */
    feed(&t, 200e-6, OC_TUNE_EARLY);
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "one thread at 2x the time: back in parallel");
    cr_assert(t.median[OC_WAY_ONE_THREAD] >= 200e-6, "its figure is kept: %g", t.median[OC_WAY_ONE_THREAD]);
    cr_assert_eq(t.window_steps, 0);
    cr_assert(!t.probing);

    /* Just under the margin, a re-probe runs its whole window. */
    oc_thread_tuner u = reprobing_one_thread();
    feed(&u, 0.99 * OC_TUNE_CLEAR_LOSS * 100e-6, OC_TUNE_EARLY);
    cr_assert_eq(u.way, OC_WAY_ONE_THREAD, "not a clear loss: the probe goes on");
    feed(&u, 0.99 * OC_TUNE_CLEAR_LOSS * 100e-6, OC_TUNE_WINDOW - OC_TUNE_EARLY);
    cr_assert_eq(u.way, OC_WAY_PARALLEL, "then the faster way");

    /* One fast step among the first is enough to go on. */
    oc_thread_tuner v = reprobing_one_thread();
    for (int i = 0; i < OC_TUNE_EARLY; i++) oc_thread_tuner_record(&v, i == 2 ? 100e-6 : 190e-6);
    cr_assert_eq(v.way, OC_WAY_ONE_THREAD, "a step as fast as parallel: the probe goes on");
}

Test(thread_tuner, the_way_running_getting_slower_than_another_has_that_one_probed_at_once)
{
    oc_thread_tuner t = oc_thread_tuner_new(three_ways, OC_WAY_PARALLEL);
    run(&t, OC_WAY_PARALLEL, 100e-6, 300e-6, 3 * OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_PARALLEL);
    cr_assert_eq(t.window_steps, 3 * OC_TUNE_WINDOW - 3 * OC_TUNE_EARLY - 2 * OC_TUNE_WINDOW,
                 "a first window of each way (%d steps), then two windows in parallel", OC_TUNE_EARLY);
    /* One thread and columns lost clearly (their probes stopped early), and
     * the next probe is OC_TUNE_PROBE windows away. Now the other core gets
     * busy: parallel steps take 400 us a window later, the others' last
     * figures are 300 us, and a probe starts at once. */
    run(&t, OC_WAY_PARALLEL, 400e-6, 250e-6, OC_TUNE_WINDOW);
    cr_assert(t.probing && t.way != OC_WAY_PARALLEL, "a probe at once (way %d)", t.way);
    run(&t, OC_WAY_PARALLEL, 400e-6, 250e-6, OC_TUNE_WINDOW);
    cr_assert(t.way != OC_WAY_PARALLEL, "the faster way runs (way %d)", t.way);
}

/* Steps of way `way` taking `seconds` but every eighth of them `stall`, and
 * of every other way `others`, `steps` of them; returns how many ran on
 * `way` and adds the steps' time to *total. */
static int run_stalling(oc_thread_tuner *t, oc_way way, double seconds, double stall, double others, int steps,
                        double *total)
{
    int on_way = 0;
    for (int i = 0; i < steps; i++) {
        const bool mine = t->way == way;
        const double s = !mine ? others : on_way % 8 == 7 ? stall : seconds;
        on_way += mine;
        *total += s;
        oc_thread_tuner_record(t, s);
    }
    return on_way;
}

/* Shards whose steps take 100 us but every eighth waits 2 ms (the second
 * thread descheduled while another process has its core) cost ~340 us a
 * step over an epoch: one thread at a steady 200 us is the faster way,
 * though the shards' median step is half that. When the stalls stop, the
 * shards win again at a later probe. */
Test(thread_tuner, a_way_that_stalls_now_and_then_loses_to_a_steady_one)
{
    oc_thread_tuner t = {0};
    enum { STEPS = 40 * OC_TUNE_WINDOW };
    double total = 0.0;
    const int parallel = run_stalling(&t, OC_WAY_PARALLEL, 100e-6, 2e-3, 200e-6, STEPS, &total);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD, "one thread (200 us) beats stalling shards");
    cr_assert(t.median[OC_WAY_PARALLEL] + t.stall[OC_WAY_PARALLEL] > 200e-6, "the stalls count: %g + %g",
              t.median[OC_WAY_PARALLEL], t.stall[OC_WAY_PARALLEL]);
    cr_assert(parallel < STEPS / 8, "%d of %d steps in parallel", parallel, STEPS);
    cr_assert(total < 1.15 * 200e-6 * STEPS, "%.0f us a step, one thread takes 200", total / STEPS * 1e6);
    int later = 0;
    for (int w = 0; w < (OC_TUNE_PROBE << OC_TUNE_BACKOFF_MAX) + 2 * OC_TUNE_PROBE; w++)
        later += run(&t, OC_WAY_PARALLEL, 100e-6, 200e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "steady shards (100 us) win again");
    cr_assert(later >= OC_TUNE_WINDOW, "%d steps in parallel", later);
}

/* Another process has the second core: a two-thread step waits ~20 ms for
 * its thread (a spinning process pinned to the second vCPU of a Zen 4 VM,
 * seed model, batch 128), one thread takes 300 us. The first round costs
 * OC_TUNE_EARLY such steps, each later probe two (its first step, which
 * may build plans, and one over budget), and the probes space out up to
 * OC_TUNE_PROBE << OC_TUNE_BACKOFF_MAX windows apart. */
Test(thread_tuner, steps_that_wait_milliseconds_cost_two_steps_a_probe_and_probes_space_out)
{
    oc_thread_tuner t = {0};
    enum { STEPS = 12 * (OC_TUNE_PROBE << OC_TUNE_BACKOFF_MAX) * OC_TUNE_WINDOW / 10 };
    int parallel = 0, probes = 0, first_round = -1;
    for (int s = 0; s < STEPS; s++) {
        const bool par = t.way == OC_WAY_PARALLEL;
        probes += par && t.probing && t.window_steps == 0; /* a re-probe starts */
        parallel += par;
        if (!par && first_round < 0) first_round = parallel;
        oc_thread_tuner_record(&t, par ? 20e-3 : 300e-6);
    }
    cr_assert_eq(first_round, OC_TUNE_EARLY, "the first round: %d steps in parallel", first_round);
    cr_assert_eq(parallel, first_round + 2 * probes, "%d re-probes of two steps each, %d steps in parallel",
                 probes, parallel);
    cr_assert(probes >= OC_TUNE_BACKOFF_MAX && probes <= OC_TUNE_BACKOFF_MAX + 2,
              "%d re-probes in %d steps: 15, 30, 60, 120, 240 windows apart", probes, STEPS);
    cr_assert_eq(t.backoff[OC_WAY_PARALLEL], OC_TUNE_BACKOFF_MAX);

    /* The core is free again: shards at 150 us win at the next probe, and
     * probes come every OC_TUNE_PROBE windows again. */
    for (int w = 0; w <= OC_TUNE_PROBE << OC_TUNE_BACKOFF_MAX && t.way != OC_WAY_PARALLEL; w++)
        run(&t, OC_WAY_PARALLEL, 150e-6, 300e-6, OC_TUNE_WINDOW);
    run(&t, OC_WAY_PARALLEL, 150e-6, 300e-6, OC_TUNE_WINDOW);
    cr_assert(t.way == OC_WAY_PARALLEL && !t.probing && t.backoff[OC_WAY_PARALLEL] == 0, "way %d, backoff %d", t.way,
              t.backoff[OC_WAY_PARALLEL]);
}

/* In parallel at 140 us a step (one thread 240, columns 190), then one
 * burst of load: a step waits 5 ms. The tuner leaves parallel, and the
 * probes of it, whose own steps are fast again, bring it back as its stall
 * figure fades (halved by each), with no spacing out: they lost to the
 * stalls of its earlier windows, not on their own steps. (The probes take
 * turns with one thread's.) */
Test(thread_tuner, a_burst_of_load_that_passes_costs_a_few_probes)
{
    static const double step_of[OC_WAYS] = {[OC_WAY_PARALLEL] = 140e-6, [OC_WAY_ONE_THREAD] = 240e-6,
                                            [OC_WAY_COLUMNS] = 190e-6};
    oc_thread_tuner t = oc_thread_tuner_new(three_ways, OC_WAY_PARALLEL);
    for (int s = 0; s < 3 * OC_TUNE_EARLY + 2 * OC_TUNE_WINDOW; s++) oc_thread_tuner_record(&t, step_of[t.way]);
    cr_assert(t.way == OC_WAY_PARALLEL && t.window_steps == 0);
    for (int s = 0; s < OC_TUNE_WINDOW; s++) oc_thread_tuner_record(&t, s == 5 ? 5e-3 : step_of[t.way]);
    cr_assert(t.way != OC_WAY_PARALLEL, "the burst: parallel is left");
    int steps = 0, probes = 0;
    while (t.way != OC_WAY_PARALLEL || t.probing) {
        probes += t.way == OC_WAY_PARALLEL && t.probing && t.window_steps == 0;
        oc_thread_tuner_record(&t, step_of[t.way]);
        cr_assert(++steps <= 8 * (OC_TUNE_PROBE + 1) * OC_TUNE_WINDOW, "still away from parallel after %d steps",
                  steps);
    }
    cr_assert(probes <= 4, "%d probes of parallel", probes);
    cr_assert_eq(t.backoff[OC_WAY_PARALLEL], 0);
}

/* In parallel at 140 us a step (one thread: 240), then the second core gets
 * busy and steps wait 20 ms: the window ends at the first such step past
 * its first, and one thread is probed at once. */
Test(thread_tuner, a_way_that_starts_waiting_milliseconds_is_left_within_two_steps)
{
    oc_thread_tuner t = {0};
    run(&t, OC_WAY_PARALLEL, 140e-6, 240e-6, 2 * OC_TUNE_EARLY + 3 * OC_TUNE_WINDOW + 5);
    cr_assert(t.way == OC_WAY_PARALLEL && t.window_steps == 5);
    int waiting = 0;
    while (t.way == OC_WAY_PARALLEL && waiting < OC_TUNE_WINDOW) {
        oc_thread_tuner_record(&t, 20e-3);
        waiting++;
    }
    cr_assert_eq(waiting, 1, "%d steps of 20 ms before a probe of one thread", waiting);
    cr_assert(t.way == OC_WAY_ONE_THREAD && t.probing);
}

Test(thread_tuner, starts_with_the_way_asked_for_when_it_has_it)
{
    cr_assert_eq(oc_thread_tuner_new(three_ways, OC_WAY_COLUMNS).way, OC_WAY_COLUMNS);
    cr_assert_eq(oc_thread_tuner_new(three_ways, OC_WAY_ONE_THREAD).way, OC_WAY_ONE_THREAD);
    const unsigned two = (1u << OC_WAY_PARALLEL) | (1u << OC_WAY_ONE_THREAD);
    cr_assert_eq(oc_thread_tuner_new(two, OC_WAY_COLUMNS).way, OC_WAY_PARALLEL, "no columns: its own order");
    cr_assert_eq(oc_thread_tuner_new(1u << OC_WAY_ONE_THREAD, OC_WAY_COLUMNS).way, OC_WAY_ONE_THREAD);
}

Test(thread_tuner, one_way_never_probes)
{
    oc_thread_tuner t = oc_thread_tuner_new(1u << OC_WAY_ONE_THREAD, OC_WAY_PARALLEL);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD);
    for (int w = 0; w < 3 * OC_TUNE_PROBE; w++) feed(&t, 100e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD);
}
