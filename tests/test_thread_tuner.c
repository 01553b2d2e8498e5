/*
 * The thread tuner's schedule (runtime/train/thread_tuner.c), on step times
 * it is told: a window each way, then the faster, a probe of the other
 * after OC_TUNE_PROBE windows, a switch when the other became faster, and a
 * window's median deciding (one slow step does not).
 */
#include <criterion/criterion.h>

#include "thread_tuner.h"

/* `steps` steps of `seconds`, the first of them an outlier of a second. */
static void feed(oc_thread_tuner *t, double seconds, int steps)
{
    for (int i = 0; i < steps; i++) oc_thread_tuner_record(t, i == 0 ? 1.0 : seconds); /* step 0: an outlier */
}

Test(thread_tuner, runs_the_faster_way_and_probes_the_other)
{
    oc_thread_tuner t = {0};
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "in parallel first");
    feed(&t, 100e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD, "then one window on one thread");
    feed(&t, 150e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "in parallel was faster (100 vs 150 us)");
    for (int w = 0; w < OC_TUNE_PROBE - 1; w++) {
        feed(&t, 100e-6, OC_TUNE_WINDOW);
        cr_assert_eq(t.way, OC_WAY_PARALLEL, "window %d: still in parallel", w);
    }
    feed(&t, 200e-6, OC_TUNE_WINDOW); /* the machine got busy: parallel slowed down */
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD, "after %d windows, a probe of one thread", OC_TUNE_PROBE);
    feed(&t, 150e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD, "one thread is now faster (150 vs 200 us)");
    cr_assert_eq(t.window_steps, 0);
}


Test(thread_tuner, three_ways_each_timed_then_the_fastest_and_each_other_probed_in_turn)
{
    oc_thread_tuner t = oc_thread_tuner_new((1u << OC_WAY_PARALLEL) | (1u << OC_WAY_ONE_THREAD) |
                                            (1u << OC_WAY_COLUMNS));
    cr_assert_eq(t.way, OC_WAY_COLUMNS, "columns first");
    feed(&t, 120e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_PARALLEL);
    feed(&t, 100e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD);
    feed(&t, 150e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "the fastest of 120, 100, 150 us");
    for (int w = 0; w < OC_TUNE_PROBE; w++) feed(&t, 100e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_COLUMNS, "the first probe: the next way after the last timed (one thread)");
    feed(&t, 90e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_COLUMNS, "columns are now the fastest (90 vs 100 us)");
    for (int w = 0; w < OC_TUNE_PROBE; w++) feed(&t, 90e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_PARALLEL, "the next probe: the way after columns");
    feed(&t, 95e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_COLUMNS);
    for (int w = 0; w < OC_TUNE_PROBE; w++) feed(&t, 90e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD, "then one thread");
}

Test(thread_tuner, one_way_never_probes)
{
    oc_thread_tuner t = oc_thread_tuner_new(1u << OC_WAY_ONE_THREAD);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD);
    for (int w = 0; w < 3 * OC_TUNE_PROBE; w++) feed(&t, 100e-6, OC_TUNE_WINDOW);
    cr_assert_eq(t.way, OC_WAY_ONE_THREAD);
}
