/*
 * The thread tuner's schedule (runtime/train/thread_tuner.c), on step times
 * it is told: a window each way, then the fastest, a probe of another way
 * after OC_TUNE_PROBE windows, a switch when it became faster, and a
 * window's median deciding (one slow first step does not), plus what the
 * way's steps lose to stalls (steps that wait now and then do count). Probes of a way that
 * clearly loses stop after OC_TUNE_EARLY steps; the way running growing
 * slower than another way's last figure has that one probed at once.
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
    feed(&t, 100e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD, "then one window on one thread");
    feed(&t, 110e-6, OC_TUNE_WINDOW);
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
    feed(&t, 100e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD);
    feed(&t, 115e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_COLUMNS);
    feed(&t, 120e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "the fastest of 100, 115, 120 us");
    for (int w = 0; w < OC_TUNE_PROBE; w++) feed(&t, 100e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD, "the first probe: the next way after the last timed (columns)");
    feed(&t, 90e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD, "one thread is now the fastest (90 vs 100 us)");
    for (int w = 0; w < OC_TUNE_PROBE; w++) feed(&t, 90e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_COLUMNS, "the next probe: the way after one thread");
    feed(&t, 95e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD);
    for (int w = 0; w < OC_TUNE_PROBE; w++) feed(&t, 90e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "then parallel");
}

Test(thread_tuner, a_probe_that_clearly_loses_stops_after_its_first_steps)
{
    oc_thread_tuner t = {0};
    feed(&t, 100e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD);
    /* The outlier first, then twice as slow: over after OC_TUNE_EARLY steps. */
    feed(&t, 200e-6, OC_TUNE_EARLY);
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "one thread at 2x the time: back in parallel");
    cr_assert(t.median[OC_WAY_ONE_THREAD] >= 200e-6, "its figure is kept: %g", t.median[OC_WAY_ONE_THREAD]);
    cr_assert_eq(t.window_steps, 0);
    cr_assert(!t.probing);

    /* Just under the margin, the probe runs its whole window. */
    oc_thread_tuner u = {0};
    feed(&u, 100e-6, OC_TUNE_WINDOW);
    feed(&u, 0.99 * OC_TUNE_CLEAR_LOSS * 100e-6, OC_TUNE_EARLY);
    cr_assert_eq(u.way, OC_WAY_ONE_THREAD, "not a clear loss: the probe goes on");
    feed(&u, 0.99 * OC_TUNE_CLEAR_LOSS * 100e-6, OC_TUNE_WINDOW - OC_TUNE_EARLY);
    cr_assert_eq(u.way, OC_WAY_PARALLEL, "then the faster way");

    /* One fast step among the first is enough to go on. */
    oc_thread_tuner v = {0};
    feed(&v, 100e-6, OC_TUNE_WINDOW);
    for (int i = 0; i < OC_TUNE_EARLY; i++) oc_thread_tuner_record(&v, i == 2 ? 100e-6 : 300e-6);
    cr_assert_eq(v.way, OC_WAY_ONE_THREAD, "a step as fast as parallel: the probe goes on");
}

Test(thread_tuner, the_way_running_getting_slower_than_another_has_that_one_probed_at_once)
{
    oc_thread_tuner t = oc_thread_tuner_new(three_ways, OC_WAY_PARALLEL);
    run(&t, OC_WAY_PARALLEL, 100e-6, 300e-6, 3 * OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_PARALLEL);
    cr_assert_eq(t.window_steps, 3 * OC_TUNE_WINDOW - 2 * OC_TUNE_WINDOW - 2 * OC_TUNE_EARLY,
                 "a window in parallel, 2 probes of %d steps, then parallel again", OC_TUNE_EARLY);
    /* One thread and columns lost clearly (their probes stopped early), and
     * the next probe is OC_TUNE_PROBE windows away. Now the other core gets
     * busy: parallel steps take 400 us a window later, the others' last
     * figures are 300 us, and a probe starts at once. */
    run(&t, OC_WAY_PARALLEL, 400e-6, 250e-6, OC_TUNE_WINDOW);
    cr_assert(t.probing && t.way != OC_WAY_PARALLEL, "a probe at once (way %d)", t.way);
    run(&t, OC_WAY_PARALLEL, 400e-6, 250e-6, OC_TUNE_WINDOW);
    cr_assert(t.way != OC_WAY_PARALLEL, "the faster way runs (way %d)", t.way);
}

/* Shards whose steps take 100 us but every eighth waits 2 ms (the second
 * thread descheduled while another process has its core) cost ~350 us a
 * step over an epoch: one thread at a steady 200 us is the faster way,
 * though the shards' median step is half that. When the stalls stop, the
 * shards win again within a few probes. */
Test(thread_tuner, a_way_that_stalls_now_and_then_loses_to_a_steady_one)
{
    oc_thread_tuner t = {0};
    for (int i = 0; i < OC_TUNE_WINDOW; i++) oc_thread_tuner_record(&t, i % 8 == 7 ? 2e-3 : 100e-6);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD);
    cr_assert(t.median[OC_WAY_PARALLEL] + t.stall[OC_WAY_PARALLEL] > 300e-6, "the stalls count: %g + %g",
              t.median[OC_WAY_PARALLEL], t.stall[OC_WAY_PARALLEL]);
    feed(&t, 200e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD, "one thread (200 us) beats stalling shards");
    int parallel = 0;
    for (int w = 0; w < 4 * (OC_TUNE_PROBE + 1); w++) parallel += run(&t, OC_WAY_PARALLEL, 100e-6, 200e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "steady shards (100 us) win again");
    cr_assert(parallel >= OC_TUNE_WINDOW, "%d steps in parallel", parallel);
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
